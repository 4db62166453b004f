"""The console's HTTP side without a cluster: pages render and say the stack is missing,
access rules hold, verdict requests are checked before anything is written, and the
event stream carries a new alert as server-rendered HTML."""

from __future__ import annotations

import json
import re
import struct
import threading
import time

import httpx
import pytest

from fraudstream.console.app import make_app
from fraudstream.console.auth import Accounts, decide
from fraudstream.console.server import BackgroundServer
from fraudstream.console.service import ConsoleService
from fraudstream.core.settings import Endpoints
from tests.unit.console.test_alerts import alert_value


def service() -> ConsoleService:
    return ConsoleService(lambda: Endpoints())


@pytest.fixture
def open_console():
    svc = service()
    server = BackgroundServer(make_app(svc, decide("127.0.0.1", Accounts()), manage_service=False))
    url = server.start()
    yield svc, url
    server.stop()


def test_every_page_renders_and_says_there_is_no_cluster(open_console):
    _, url = open_console
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/").status_code == 303
        for page in ("/alerts", "/overview", "/models", "/drift"):
            r = c.get(page)
            assert r.status_code == 200, (page, r.text[-500:])
            assert "No cluster: no embedded stack runs" in r.text
            assert "default-src 'self'" in r.headers["content-security-policy"]
        status = c.get("/api/status").json()
        assert status["cluster"] is None and status["feeds"]["fraud_alerts"]["state"] in ("starting", "no-cluster")


def test_pages_load_nothing_from_other_hosts(open_console):
    _, url = open_console
    with httpx.Client(base_url=url, timeout=10) as c:
        for page in ("/alerts", "/overview", "/models", "/drift"):
            html = c.get(page).text
            refs = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert refs and all(r.startswith("/") or r.startswith("#") for r in refs), refs
            for ref in refs:
                if ref.startswith("/static/"):
                    r = c.get(ref)
                    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]


def test_alerts_render_newest_first_with_masked_users_and_feature_bars(open_console):
    svc, url = open_console
    svc.book.add_alerts([(struct.pack(">q", 11), alert_value(ts=1000)), (struct.pack(">q", 12), alert_value(ts=2000)),
                         (struct.pack(">q", 13), {**alert_value(ts=500), "USER": "123456"})])
    html = httpx.get(url + "alerts?time=all", timeout=10).text
    ids = re.findall(r'<tr id="alert-(\d+)"', html)
    assert ids == ["12", "11", "13"]
    assert "nn42" in html and "123456" not in html  # a user id that reached the page unmasked is masked again
    assert 'aria-label="Top features: V14 50 %, V4 25 %"' in html


def test_verdict_requests_are_checked(open_console):
    svc, url = open_console
    svc.book.add_alerts([(struct.pack(">q", 5), alert_value())])
    with httpx.Client(base_url=url, timeout=10) as c:
        h = {"X-Console": "1"}
        assert c.post("/api/alerts/5/verdict", json={"verdict": "fraud"}).status_code == 403  # no CSRF header
        assert c.post("/api/alerts/x/verdict", json={"verdict": "fraud"}, headers=h).status_code == 400
        assert c.post("/api/alerts/5/verdict", content=b"{", headers=h).status_code == 400
        r = c.post("/api/alerts/5/verdict", json={"verdict": "maybe"}, headers=h)
        assert r.status_code == 400 and "not fraud or legit" in r.json()["message"]
        assert c.post("/api/alerts/5/verdict", json={"verdict": "fraud", "note": "x" * 1001}, headers=h).status_code == 400
        assert c.post("/api/alerts/99/verdict", json={"verdict": "fraud"}, headers=h).status_code == 404
        r = c.post("/api/alerts/5/verdict", json={"verdict": "fraud"}, headers=h)
        assert r.status_code == 503 and "nothing was written" in r.json()["message"]
    assert svc.book.claim(5, "x").__class__.__name__ == "Claimed"  # the failed attempt left no claim behind


def test_login_is_required_when_accounts_exist():
    svc = service()
    server = BackgroundServer(make_app(svc, decide("0.0.0.0", Accounts({"alice": "password-1"})),
                                       manage_service=False), host="127.0.0.1")
    url = server.start()
    try:
        r = httpx.get(url + "alerts", timeout=10)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(url + "api/alerts", timeout=10).status_code == 401
        assert httpx.get(url + "static/console.js", timeout=10).status_code == 401
        assert httpx.get(url + "health", timeout=10).status_code == 200
        r = httpx.get(url + "alerts", auth=("alice", "password-1"), timeout=10)
        assert r.status_code == 200 and "signed in as <strong id=\"analyst\">alice</strong>" in r.text
        assert httpx.get(url + "alerts", auth=("alice", "nope-nope"), timeout=10).status_code == 401
    finally:
        server.stop()


def test_the_event_stream_carries_a_new_alert_as_a_rendered_row(open_console):
    svc, url = open_console
    got: list[tuple[str, dict]] = []

    def listen() -> None:
        with httpx.stream("GET", url + "events", timeout=10) as r:
            kind = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    got.append((kind, json.loads(line[6:])))
                    if kind == "alert":
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got and got[0][0] == "hello"
    svc.book.add_alerts([(struct.pack(">q", 77), alert_value())])
    t.join(10)
    kind, data = got[-1]
    assert kind == "alert" and data["id"] == 77 and '<tr id="alert-77"' in data["html"]
    assert 'data-verdict="fraud"' in data["html"]


def test_a_kept_row_is_never_shown_for_a_changed_alert(open_console):
    # rows are rendered once and kept: a claim and then a verdict must each show anew
    svc, url = open_console
    svc.book.add_alerts([(struct.pack(">q", 21), alert_value(ts=1000)), (struct.pack(">q", 22), alert_value(ts=2000))])

    def row(html: str, ident: int) -> str:
        return re.search(rf'<tr id="alert-{ident}".*?</tr>', html, re.S).group(0)

    with httpx.Client(base_url=url, timeout=10) as c:
        first = c.get("/alerts?time=all").text
        assert c.get("/alerts?time=all").text == first
        assert 'data-verdict="fraud"' in row(first, 21)
        claim = svc.book.claim(21, "bob")
        busy = c.get("/alerts?time=all").text
        assert "being labelled by <strong>bob</strong>" in row(busy, 21) and row(busy, 22) == row(first, 22)
        svc.book.release(claim)
        assert row(c.get("/alerts?time=all").text, 21) == row(first, 21)
        svc.book.add_labels([({"ID": 21, "LABEL": 0, "SOURCE": "analyst", "LABELLED_AT": 5, "NOTE": "known customer",
                               "GIVEN_BY": "carol"}, 0, 1)])
        done = row(c.get("/alerts?time=all").text, 21)
        assert "labelled by <strong>carol</strong>" in done and "known customer" in done
        assert 'data-verdict="fraud"' not in done


def test_a_former_champion_is_not_marked_as_the_champion():
    from fraudstream.console.app import _environment

    def version(v: int, role: str) -> dict:
        return {"version": v, "name": "fraud-autoencoder", "score_kind": "reconstruction-error", "role": role,
                "created_ms": 1_000, "threshold": 0.5, "threshold_rule": "f1", "roc_auc": 0.9,
                "auprc_corrected": 0.6, "precision": 0.5, "recall": 0.8, "scores_last_minute": 0, "live": None}

    html = _environment().get_template("_models.html").render(data={
        "versions": [version(3, "challenger"), version(2, "champion"), version(1, "previous champion")],
        "lifecycle": True})
    assert html.count('class="role champion"') == 1  # the CSS colours .role.champion
    assert 'class="role previous-champion">previous champion<' in html
    assert html.count('class="promote"') == 2
    assert html.count('class="rollback"') == 1
