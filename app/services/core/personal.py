"""Where personal data lives, declared once, and the sealing of personal values in audit events.

A data key is personal when:
- its form field says so in the BPMN: `<camunda:property name="personal" value="true" />` (and `false` says
  it is not, whatever its name);
- or its name follows the convention `customer_*` or `contact_*` (the complainant's identity and address);
- or it is one of the fixed keys the application itself writes: free text from or about the person (`text` of
  a complainant's message or a comment, `description`), a recipient address, a file name.
Fixed places outside the audit trail (case columns, task rows, outbox messages, attachments, comments,
notifications, the mailbox archive) are listed in app/services/privacy/erasure.py, which anonymises them.

`seal(case, data)` is called by `audit.record` before hashing: each personal value becomes a token encrypted
with the case's data key (app/models/privacy.py), so that erasure (destroying the key) leaves the chain intact.
"""

from __future__ import annotations

import re

from app.engine import SPECS
from app.models import Case
from app.models.privacy import is_token, seal_value

FIXED = frozenset({"customer_name", "customer_email", "customer_phone", "customer_address", "description", "text",
                   "recipient", "filename", "sender", "from_address", "from_name",
                   # what the complainant writes in our processes' forms and messages, in their own words
                   "expected_remedy", "information_received", "satisfaction_comment", "contest_text"})
PREFIXES = ("customer_", "contact_")
# Names that look like personal data; a form field named so without a `personal` property gets a deploy warning.
LOOKS_PERSONAL = re.compile(r"(^|_)(e?mail|phone|tel|telephone|mobile|name|nom|address|adresse|iban|birth)($|_)")

_BY_DEFINITION: dict[tuple[str, str], tuple[frozenset, frozenset]] = {}


def field_flags(pspec) -> tuple[frozenset, frozenset]:
    """(names declared personal, names declared not personal) in a parsed definition's forms."""
    yes, no = set(), set()
    forms = [pspec.start_form, *(t["form"] for t in pspec.user_tasks.values())]
    for form in forms:
        for field in form:
            flag = dict(field.properties).get("personal")
            if flag is None:
                continue
            (yes if str(flag).strip().lower() == "true" else no).add(field.name)
    return frozenset(yes), frozenset(no)


def unclassified_fields(pspec) -> list[str]:
    """Form fields whose name looks personal but carry no `personal` property and match no convention."""
    yes, no = field_flags(pspec)
    names = {f.name for form in [pspec.start_form, *(t["form"] for t in pspec.user_tasks.values())] for f in form}
    return sorted(n for n in names - yes - no
                  if LOOKS_PERSONAL.search(n) and n not in FIXED and not n.startswith(PREFIXES))


def _flags_for(case: Case) -> tuple[frozenset, frozenset]:
    definition = case.definition
    key = (definition.sha256, definition.key)
    if key not in _BY_DEFINITION:
        pspec = SPECS.cached(*key) or SPECS.get(definition.sha256, definition.key, definition.xml,
                                                 definition.decisions)
        _BY_DEFINITION[key] = field_flags(pspec)
    return _BY_DEFINITION[key]


def is_personal(name: str, declared: frozenset = frozenset(), denied: frozenset = frozenset()) -> bool:
    """Whether a data key holds personal data (see the module docstring)."""
    if name in denied:
        return False
    return name in declared or name in FIXED or name.startswith(PREFIXES)


def personal_names(case: Case) -> tuple[frozenset, frozenset]:
    """The declared and denied personal field names of the case's process version."""
    return _flags_for(case)


_NESTED = (dict, list)  # what `seal` walks into; any other value is kept as it is


def seal(case: Case, data: dict) -> dict:
    """A copy of an event's data with every personal value replaced by a token sealed with the case's key."""
    key = case.data_key
    if key is None:  # erased: its values are already placeholders; or a case from before keys existed
        return data
    declared, denied = _flags_for(case)
    context = case.reference

    def walk(value):
        if isinstance(value, dict) and not is_token(value):
            return {k: seal_value(key, v, context) if is_personal(k, declared, denied) and v not in (None, "")
                    else walk(v) if isinstance(v, _NESTED) else v for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) if isinstance(v, _NESTED) else v for v in value]
        return value

    return walk(data)


def anonymise(value, declared: frozenset, denied: frozenset, placeholder: str):
    """A copy of a JSON value where every personal key's value is the placeholder (erasure of live data)."""
    if isinstance(value, dict):
        return {k: placeholder if is_personal(k, declared, denied) and v not in (None, "")
                else anonymise(v, declared, denied, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [anonymise(v, declared, denied, placeholder) for v in value]
    return value
