"""axe-core (npm, installed by `make install` into node_modules/) run in a Playwright page, and the phone check."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}


def violations(page) -> list[str]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page, as readable lines."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                                                  'wcag21aa']}});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(v['nodes'])}" for v in found
            if v["impact"] in BLOCKING]


def horizontal_overflow(page) -> int:
    """How many pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
