"""Small BPMN documents built in tests: a start form, a chain of steps, a user task, an end (lane gestionnaire).

Each step builder returns an element whose id and flows are filled in by `process` (ids s0, s1, ...).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'id="Definitions_{key}" targetNamespace="http://bpmn.io/schema/bpmn">')
ID, IO = "\x00id\x00", "\x00io\x00"


def script(name: str, source: str) -> str:
    return (f'<bpmn:scriptTask id="{ID}" name="{escape(name)}">{IO}<bpmn:script>{escape(source)}</bpmn:script>'
            "</bpmn:scriptTask>")


def timer(name: str, expression: str, kind: str = "timeDuration") -> str:
    return (f'<bpmn:intermediateCatchEvent id="{ID}" name="{escape(name)}">{IO}<bpmn:timerEventDefinition>'
            f'<bpmn:{kind}>{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')


def user_task(name: str, fields: dict[str, str] | None = None) -> str:
    return f'<bpmn:userTask id="{ID}" name="{escape(name)}">{_form(fields)}{IO}</bpmn:userTask>'


def _form(fields: dict[str, str] | None) -> str:
    if not fields:
        return ""
    form = "".join(f'<camunda:formField id="{f}" label="{f}" type="{t}"/>' for f, t in fields.items())
    return f"<bpmn:extensionElements><camunda:formData>{form}</camunda:formData></bpmn:extensionElements>"


def process(key: str, steps: list[str], fields: dict[str, str] | None = None, *, name: str = "Processus de test",
            end_task: bool = True, end_fields: dict[str, str] | None = None) -> str:
    """A process: start (form `fields`: id -> type) -> steps -> [user task « Vérifier » (`end_fields`)] -> end."""
    steps = list(steps) + ([user_task("Vérifier", end_fields)] if end_task else [])
    ids = ["start"] + [f"s{i}" for i in range(len(steps))] + ["end"]
    parts = [HEAD.format(key=key), f'<bpmn:process id="{key}" name="{escape(name)}" isExecutable="true">',
             '<bpmn:laneSet id="ls"><bpmn:lane id="lane" name="gestionnaire">',
             *(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids), "</bpmn:lane></bpmn:laneSet>",
             f'<bpmn:startEvent id="start" name="Début">{_form(fields)}<bpmn:outgoing>f0</bpmn:outgoing>'
             "</bpmn:startEvent>"]
    for index, step in enumerate(steps):
        io = f"<bpmn:incoming>f{index}</bpmn:incoming><bpmn:outgoing>f{index + 1}</bpmn:outgoing>"
        parts.append(step.replace(ID, f"s{index}").replace(IO, io))
    parts.append(f'<bpmn:endEvent id="end" name="Fin"><bpmn:incoming>f{len(steps)}</bpmn:incoming></bpmn:endEvent>')
    parts += [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{ids[i]}" targetRef="{ids[i + 1]}"/>'
              for i in range(len(steps) + 1)]
    parts.append("</bpmn:process></bpmn:definitions>")
    return "\n".join(parts)


def chain(key: str, count: int) -> str:
    """A process of `count` chained script tasks (what a careless or hostile upload looks like)."""
    return process(key, [script(f"Étape {i}", f"x{i} = {i}") for i in range(count)], end_task=False)
