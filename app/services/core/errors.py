"""Service-layer errors; the API and the pages map each to an HTTP status."""


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    """Invalid input: `errors` maps field names to French messages."""

    status = 422

    def __init__(self, errors: dict, message: str = "Données invalides."):
        super().__init__(message, errors=errors)
        self.errors = errors
