"""Helpers to drive cases through the JSON API in tests."""

from app import clock


def complaint_data(**overrides) -> dict:
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint",
            "customer_name": "Martine Lefèvre", "customer_email": "martine@example.fr",
            "description": "Frais de livraison facturés deux fois.", "amount": 42.5, "written": "yes",
            "invoice_refs": "FA-2026-1182"}
    data.update(overrides)
    return data


def start(api, user="accueil", process="reclamation", **data):
    resp = api.post(user, "/api/cases", json={"process": process, "data": data})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def case(api, reference, user="admin"):
    resp = api.get(user, f"/api/cases/{reference}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def ready(api, reference, bpmn_id, user="admin"):
    """The ready task of a case at a BPMN element (exactly one)."""
    found = [t for t in case(api, reference, user)["tasks"] if t["bpmn_id"] == bpmn_id]
    assert len(found) == 1, (bpmn_id, [t["bpmn_id"] for t in case(api, reference, user)["tasks"]])
    return found[0]


def do(api, reference, bpmn_id, user, data, expect=200):
    """Complete the case's ready task at bpmn_id as user with data."""
    task = ready(api, reference, bpmn_id)
    resp = api.post(user, f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def history_types(api, reference) -> list[str]:
    resp = api.get("auditeur", f"/api/cases/{reference}/history")
    assert resp.status_code == 200
    return [e["type"] for e in resp.get_json()["events"]]


def advance_days(days: int) -> None:
    clock.advance(days=days)


XML = {"Content-Type": "application/xml"}


def upload(api, user, xml, expect=201, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    resp = api.post(user, "/api/process-definitions" + (f"?{query}" if query else ""), data=xml.encode("utf-8"),
                    headers=dict(XML))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def deploy(api, user, key, ref, expect=201):
    resp = api.post(user, f"/api/process-definitions/{key}/{ref}/deploy")
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()
