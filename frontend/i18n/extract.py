"""List every English string the modeler's libraries pass to `translate()`: the set translate-fr.js must cover.

Reads the un-minified sources in node_modules (bpmn-js, diagram-js, the properties panels through their source
maps, camunda-bpmn-js-behaviors, bpmn-js-bpmnlint, dmn-js) - the code the vendored bundles are built from - and
writes frontend/i18n/strings-en.json: {"bpmn": [...], "bpmnlint": [...], "dmn": [...]}. The Zeebe (Camunda 8) provider is not
loaded by the modeler: its sources are left out.

    .venv/bin/python frontend/i18n/extract.py        # after npm install / make vendor
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NM = ROOT / "node_modules"
OUT = Path(__file__).with_name("strings-en.json")

# translate('...'), translate("..."), translate(`...`) - also this._translate( and _translate(
CALL = re.compile(r"""(?<![\w$])(?:this\.)?_?translate\(\s*(?P<q>['"`])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)""", re.S)
# Labels kept in tables and translated at run time by variable (`translate(entry.label)`): the popup menu's
# element types, the hit policies; and the modeling feedback's two messages.
TABLE_FILES = re.compile(r"ReplaceOptions\.js$|PopupEntries\.js$|HitPolicies\.js$|ModelingFeedback\.js$")
TABLE = re.compile(r"""(?:label:\s*|_ERR_MSG\s*=\s*)(?P<q>['"])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)""")
SKIP_SOURCE = re.compile(r"zeebe|Zeebe|/test/|\.spec\.")

BPMN = [
    ("dir", "bpmn-js/lib"),
    ("dir", "diagram-js/lib"),
    ("dir", "diagram-js-direct-editing"),
    ("map", "bpmn-js-properties-panel/dist/index.esm.js.map"),
    ("map", "@bpmn-io/properties-panel/dist/index.esm.js.map"),
    ("dir", "camunda-bpmn-js-behaviors/lib"),
    ("file", "bpmn-js-bpmnlint/dist/index.esm.js"),
    ("titles", "bpmn-js-properties-panel/dist/bpmn-js-properties-panel.umd.js"),
]
# The vendored UMD bundle carries a second, older copy of some panel components whose titles are plain English
# (no translate call): translate-fr.js rewrites them on screen, so they belong to the list too.
HARD_TITLE = re.compile(r'title: "(?P<s>[^"]+)"|add-entry-label",\s*children: "(?P<t>[^"]+)"')
# Keys built from a template literal: `List contains {numOfItems} item${...}`.
COMPUTED = ["List contains {numOfItems} item", "List contains {numOfItems} items"]
# bpmnlint's rule messages: bpmn-js-bpmnlint shows them through translate(issue.message). Computed ones (with the
# element's type or a link name) are matched by patterns in translate-fr.js.
REPORT = re.compile(r"""report\([^,()]+,\s*(?P<q>['"])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*[,)]""")

DMN = [
    ("dir", "dmn-js/lib"), ("dir", "dmn-js-shared/lib"), ("dir", "dmn-js-decision-table/lib"),
    ("dir", "dmn-js-drd/lib"), ("dir", "dmn-js-literal-expression/lib"), ("dir", "dmn-js-boxed-expression/lib"),
]


def unescape(text: str) -> str:
    return text.replace("\\'", "'").replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def sources(kind: str, where: str):
    path = NM / where
    if kind in ("file", "titles"):
        yield str(path), path.read_text(encoding="utf-8")
    elif kind == "dir":
        if not path.exists():
            return
        for file in sorted(path.rglob("*.js")):
            if not SKIP_SOURCE.search(str(file)):
                yield str(file), file.read_text(encoding="utf-8")
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, content in zip(data["sources"], data.get("sourcesContent") or [], strict=False):
            if content and not SKIP_SOURCE.search(name) and "node_modules" not in name:
                yield name, content


def strings(groups) -> list[str]:
    found = set(COMPUTED) if groups is BPMN else set()
    for kind, where in groups:
        for _name, text in sources(kind, where):
            if kind == "titles":
                found.update(m.group("s") or m.group("t") for m in HARD_TITLE.finditer(text))
                continue
            matches = list(CALL.finditer(text))
            if TABLE_FILES.search(_name):
                matches += list(TABLE.finditer(text))
            for match in matches:
                value = unescape(match.group("s"))
                if match.group("q") == "`" and "${" in value:
                    continue  # a computed template: not a catalogue key
                if value.strip():
                    found.add(value)
    return sorted(found)


def main() -> int:
    if not NM.exists():
        print("node_modules missing: run npm install (or make vendor) first", file=sys.stderr)
        return 1
    lint = set()
    for file in sorted((NM / "bpmnlint" / "rules").glob("*.js")):
        lint.update(unescape(m.group("s")) for m in REPORT.finditer(file.read_text(encoding="utf-8")))
    result = {"bpmn": strings(BPMN), "bpmnlint": sorted(lint), "dmn": strings(DMN)}
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    counts = ", ".join(f"{len(v)} {k}" for k, v in result.items())
    print(f"{counts} strings -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
