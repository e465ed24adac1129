"""French labels for indicator keys, read from the deployed BPMN forms (enum options, task names)."""

from app.services.core import definitions

STATUS_LABELS = {"open": "Ouvert", "in_progress": "En cours", "answered": "Répondu", "resolved": "Résolu",
                 "closed": "Clos"}
NONE_LABEL = "Non renseigné"


def catalogue() -> dict:
    """{"fields": {field id: {option id: label}}, "tasks": {(process, bpmn id): name}, "processes": {key: name}}."""
    fields: dict[str, dict[str, str]] = {}
    tasks: dict[tuple[str, str], str] = {}
    processes: dict[str, str] = {}
    for definition in definitions.all_active():
        pspec = definitions.spec_for(definition)
        processes[definition.key] = pspec.name
        forms = [pspec.start_form] + [t["form"] for t in pspec.user_tasks.values()]
        for form in forms:
            for field in form:
                if field.options:
                    fields.setdefault(field.name, {}).update(dict(field.options))
        for bpmn_id, info in pspec.user_tasks.items():
            tasks[(definition.key, bpmn_id)] = info["name"]
    return {"fields": fields, "tasks": tasks, "processes": processes}


def option(cat: dict, field: str, value: str | None) -> str:
    """The French label of an option id, the id itself when unknown."""
    if value in (None, ""):
        return NONE_LABEL
    return cat["fields"].get(field, {}).get(value, value)


def task(cat: dict, process: str, bpmn_id: str) -> str:
    return cat["tasks"].get((process, bpmn_id), bpmn_id)
