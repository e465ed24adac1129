"""Search helpers shared by the services."""


def contains_pattern(text: str, max_length: int = 100) -> str:
    """A LIKE pattern matching `text` literally anywhere (%, _ and \\ escaped); use with escape="\\\\"."""
    cleaned = (text or "").strip()[:max_length]
    escaped = cleaned.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
