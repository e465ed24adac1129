"""LIKE helpers shared by every search (escape character: backslash; pass escape="\\\\" to like/ilike)."""


def like_escape(text: str) -> str:
    """Escape LIKE wildcards so a search for '50%' or 'a_b' matches them literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(text: str, max_length: int = 100) -> str:
    """A LIKE pattern matching `text` literally anywhere."""
    return f"%{like_escape((text or '').strip()[:max_length])}%"
