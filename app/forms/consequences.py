"""What a chosen option will do, as the BPMN says it: a field property `consequence_<option id>`
(`consequence_true` / `consequence_false` for booleans), shown beside the option and confirmed on submit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.forms.fields import FieldSpec, choice_key

CONSEQUENCE_PREFIX = "consequence_"


def consequence(spec: FieldSpec, option: Any) -> str | None:
    """What choosing `option` in this field will do, as the BPMN says (consequence_<option>), or None."""
    return dict(spec.properties).get(f"{CONSEQUENCE_PREFIX}{choice_key(option)}") or None


def consequences(fields: Iterable[FieldSpec], clean: Mapping) -> list[tuple[str, str]]:
    """(field id=option, sentence) for every chosen option that closes, rejects or sends something."""
    found = []
    for spec in fields:
        if spec.name in clean:
            text = consequence(spec, clean[spec.name])
            if text:
                found.append((f"{spec.name}={choice_key(clean[spec.name])}", text))
    return found
