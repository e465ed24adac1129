"""Printed pieces of pages kept per process: a template macro's output for the same arguments, printed once.

For a piece that is a pure function of a few values (a task list row, the task list's filter form): the caller
passes a key that determines the macro's arguments, the macro prints them through autoescape as any template
does, and the next view with the same key gets the same Markup without printing it again. At most `size`
pieces are kept, forgotten all at once past that; a reloaded template (TEMPLATES_AUTO_RELOAD) or another app's
environment forgets them too. Nothing here escapes or skips escaping: the macro does.
"""

from flask import current_app
from markupsafe import Markup


class KeptMacro:
    """The macro `name` of the template `template`, its outputs kept by key."""

    def __init__(self, template: str, name: str, size: int):
        self.template, self.name, self.size = template, name, size
        self._source = None
        self._macro = None
        self.kept: dict = {}

    def parts(self) -> tuple:
        """(the macro, the kept outputs by key) for the current app's template: for a caller printing many."""
        template = current_app.jinja_env.get_template(self.template)
        if template is not self._source:
            self.kept.clear()
            self._source, self._macro = template, getattr(template.module, self.name)
        return self._macro, self.kept

    def keep(self, key, html: Markup) -> Markup:
        if len(self.kept) >= self.size:
            self.kept.clear()
        self.kept[key] = html
        return html

    def __call__(self, key, *args) -> Markup:
        """The macro's output for args (key: hashable, the same for the same args; None: printed, not kept)."""
        macro, kept = self.parts()
        if key is None:
            return macro(*args)
        html = kept.get(key)
        return html if html is not None else self.keep(key, macro(*args))
