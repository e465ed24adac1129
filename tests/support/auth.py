"""Signing in, for page tests: through the real login form (CSRF off in tests) or in a real browser."""

import re


def login(client, username: str, password: str = "demo") -> None:
    """Sign the test client in as `username` through POST /login (a previous session is closed first)."""
    client.post("/logout")
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:300]


def browser_sign_in(page, base: str, username: str, password: str = "demo") -> None:
    """Sign in through the login page in a real browser; lands on the task list."""
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/taches/"))
