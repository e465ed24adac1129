"""Pages for complainants (no account): file a complaint, follow it, add to it, answer the survey."""

from flask import Blueprint, current_app, render_template

from app.web import limiter

bp = Blueprint("public", __name__, template_folder=None)


def _page_limit() -> str:
    return current_app.config.get("PUBLIC_RATELIMIT", "120 per minute")


# All public pages together, per client address; submissions have a tighter limit of their own (see routes).
limiter.shared_limit(_page_limit, scope="public-pages", error_message="Trop de requêtes.")(bp)


@bp.after_request
def private_headers(response):
    """Public pages are never cached (tracking and CSRF tokens) and send no referrer (the token is in the URL).

    The app-wide security headers (CSP, frame and type options) come from app/ops/security.py.
    """
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(404)
def not_found(_exc):
    return render_template("public/message.html", title="Page introuvable",
                           text="Cette page n'existe pas ou ce lien de suivi n'est pas valide. "
                                "Vérifiez l'adresse reçue dans nos messages."), 404


@bp.errorhandler(413)
def too_large(_exc):
    return render_template("public/message.html", title="Envoi trop volumineux",
                           text="Le fichier envoyé dépasse la taille autorisée. Réduisez-le et réessayez."), 413


@bp.errorhandler(429)
def too_many(_exc):
    return render_template("public/message.html", title="Trop de demandes",
                           text="Vous avez envoyé trop de demandes en peu de temps. "
                                "Merci de patienter quelques minutes avant de réessayer."), 429


from app.public import routes  # noqa: E402,F401
