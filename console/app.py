"""The console's web application: Starlette routes, access control, server-sent events.

Pages are rendered on the server (Jinja2); a page then updates itself from small JSON
answers and one server-sent event stream (`/events`), on which the server pushes each
new alert and each verdict as it happens, rendered by the same template macro as the
page's rows. No page polls a topic: the followers read Kafka once for every viewer.

Server-sent events rather than websockets: the stream is one-way (verdicts go up as
ordinary POSTs that can answer 409), EventSource reconnects by itself, and it passes
through any HTTP proxy and basic auth unchanged.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudstream.console import models as models_mod
from fraudstream.console.alerts import LABEL_STATES, Filters
from fraudstream.console.auth import CSRF_HEADER, Access
from fraudstream.console.service import ConsoleService

HERE = Path(__file__).resolve().parent
REALM = "fraudstream console"
TIME_CHOICES = [("15m", "last 15 minutes", 15 * 60), ("1h", "last hour", 3600), ("6h", "last 6 hours", 6 * 3600),
                ("24h", "last 24 hours", 24 * 3600), ("all", "everything held", None)]
SSE_QUEUE = 2000
ROW_CACHE = 2048  # rendered rows kept (~2 KB each)


# ---- access control -------------------------------------------------------------------------
class AccessMiddleware:
    """Basic auth when the access rule needs a login; the caller's identity in
    `scope["state"]["analyst"]`; state-changing requests need the X-Console header."""

    OPEN = ("/health",)

    def __init__(self, app: ASGIApp, access: Access) -> None:
        from starlette.middleware.gzip import GZipMiddleware

        self.app = app
        # pages and JSON compressed (an alert page of 200 rows: 264 KB, 20 KB gzipped);
        # never the event stream, which must reach the browser event by event
        self.gzipped = GZipMiddleware(app, minimum_size=2000)
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] not in self.OPEN:
            who = self.access.identify(headers.get("authorization"))
            if who is None:
                await _plain(send, 401, "login required",
                             [(b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode())])
                return
            scope.setdefault("state", {})["analyst"] = who
            if scope["method"] not in ("GET", "HEAD") and headers.get(CSRF_HEADER) != "1":
                await _plain(send, 403, f"state-changing requests need the {CSRF_HEADER} header "
                                        "(sent by the console's own pages)")
                return
        app = self.app if scope["path"] == "/events" else self.gzipped
        await app(scope, receive, _secure(send))


def _secure(send: Send) -> Send:
    extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
             (b"referrer-policy", b"no-referrer"),
             (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                          b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")]

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = list(message.get("headers", [])) + extra
        await send(message)

    return wrapped


async def _plain(send: Send, status: int, text: str, headers: list | None = None) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())] + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class CachedStatic(StaticFiles):
    """Static files; the pages name them with `?v=<content hash>`, so a browser may keep
    them for a year and a page load fetches no script, style or chart library again."""

    def file_response(self, full_path, stat_result, scope, status_code=200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if b"v=" in scope.get("query_string", b""):
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def static_versions() -> dict[str, str]:
    import hashlib

    root = HERE / "static"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in root.rglob("*") if p.is_file()}


# ---- the event hub --------------------------------------------------------------------------
class Hub:
    """Fans the alert book's changes out to every open event stream (thread-safe entry)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue] = set()
        self.published = 0

    def publish(self, kind: str, data: dict) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._fanout, kind, data)
        except RuntimeError:  # the loop closed meanwhile (shutdown)
            pass

    def _fanout(self, kind: str, data: dict) -> None:
        self.published += 1
        for q in list(self.queues):
            try:
                q.put_nowait((kind, data))
            except asyncio.QueueFull:  # a stalled viewer: drop it; its stream says "resync" and ends
                self.queues.discard(q)


# ---- rendering ------------------------------------------------------------------------------
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    def blank(v: Any) -> bool:
        return v is None or isinstance(v, Undefined)

    env.filters["money"] = lambda v: "–" if blank(v) else f"{v:,.2f}"
    env.filters["num"] = lambda v, d=3: "–" if blank(v) else f"{v:.{d}f}"
    env.filters["sig"] = lambda v: "–" if blank(v) else f"{v:.4g}"
    env.filters["pct"] = lambda v, d=1: "–" if blank(v) else f"{100 * v:.{d}f} %"
    env.filters["ts"] = lambda ms: "–" if not ms else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))
    versions = static_versions()
    env.globals["static"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
    env.filters["hms"] = lambda ms: "–" if not ms else time.strftime("%H:%M:%S", time.localtime(ms / 1000))
    return env


def _filters(request: Request) -> tuple[Filters, dict]:
    q = request.query_params
    chosen = {"model": q.get("model", ""), "label": q.get("label", "all"), "time": q.get("time", "24h")}
    model = None
    if chosen["model"].strip():
        try:
            model = int(chosen["model"])
        except ValueError:
            chosen["model"] = ""
    if chosen["label"] not in LABEL_STATES:
        chosen["label"] = "all"
    seconds = dict((k, s) for k, _, s in TIME_CHOICES).get(chosen["time"], 24 * 3600)
    if chosen["time"] not in dict((k, s) for k, _, s in TIME_CHOICES):
        chosen["time"] = "24h"
    since = int(time.time() * 1000) - seconds * 1000 if seconds else None
    return Filters(model_version=model, label=chosen["label"], since_ms=since), chosen


def make_app(service: ConsoleService, access: Access, *, manage_service: bool = True) -> Starlette:
    env = _environment()
    hub = Hub()
    row_macro = env.get_template("_row.html").module.row  # type: ignore[attr-defined]
    rendered: OrderedDict[str, Markup] = OrderedDict()  # a row's state -> its HTML (LRU)
    rendered_lock = threading.Lock()

    def row(item: dict) -> Markup:
        """The row macro's HTML for `item`, kept for the next page load: the macro costs
        ~0.2 ms a row, a page shows 200; the key is the row's whole state (alert, verdict,
        pending), so a changed row is rendered anew."""
        key = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        with rendered_lock:
            html = rendered.get(key)
            if html is not None:
                rendered.move_to_end(key)
                return html
        html = Markup(str(row_macro(item)))
        with rendered_lock:
            rendered[key] = html
            while len(rendered) > ROW_CACHE:
                rendered.popitem(last=False)
        return html

    def row_html(item: dict) -> str:
        return str(row(item))

    def on_change(kind: str, data: dict) -> None:
        if kind == "alert":
            item = {"alert": data["alert"], "verdict": data["verdict"], "pending": None}
            hub.publish("alert", {"id": data["alert"]["id"], "model_version": data["alert"]["model_version"],
                                  "event_ts": data["alert"]["event_ts"] or data["alert"]["seen_ms"],
                                  "labelled": data["verdict"] is not None, "html": row_html(item)})
        elif kind in ("verdict", "pending", "released"):
            alert, verdict = service.book.get(int(data["id"]))
            if alert is None:
                return
            pending = data.get("by") if kind == "pending" else None
            item = {"alert": alert.as_dict(), "verdict": verdict.as_dict() if verdict else None, "pending": pending}
            hub.publish("verdict", {"id": alert.id, "labelled": verdict is not None,
                                    "verdict": item["verdict"], "html": row_html(item)})

    service.book.subscribe(on_change)

    def page(name: str, request: Request, **ctx: Any) -> HTMLResponse:
        started = time.perf_counter()
        html = env.get_template(name).render(request=request, analyst=request.scope["state"]["analyst"],
                                             login=access.login_required, status=service.status(), **ctx)
        return HTMLResponse(html, headers={"server-timing": f"render;dur={1000 * (time.perf_counter() - started):.1f}",
                                           "cache-control": "no-store"})

    async def home(_: Request) -> Response:
        return RedirectResponse("/alerts", status_code=303)

    async def alerts_page(request: Request) -> Response:
        filters, chosen = _filters(request)
        items = service.book.query(filters)
        return page("alerts.html", request, active="alerts", items=items, chosen=chosen,
                    versions=sorted(service.book.versions, reverse=True), label_states=LABEL_STATES,
                    time_choices=TIME_CHOICES, row=row, since_ms=filters.since_ms,
                    feed=service.alerts_feed.status.as_dict())

    async def overview_page(request: Request) -> Response:
        return page("overview.html", request, active="overview", data=overview_data())

    async def models_page(request: Request) -> Response:
        data = await run_in_threadpool(models_data)
        return page("models.html", request, active="models", data=data)

    async def drift_page(request: Request) -> Response:
        return page("drift.html", request, active="drift", data=service.drift.snapshot())

    # ---- JSON -------------------------------------------------------------------------------
    def overview_data() -> dict:
        snap = service.scores.snapshot()
        window_ms = snap["latency_window_s"] * 1000
        labelled, alerts = service.book.coverage(int(time.time() * 1000) - 3600_000)
        return {"scores": snap, "coverage": {"labelled": labelled, "alerts": alerts,
                                             "share": labelled / alerts if alerts else None, "window": "last hour"},
                "quality": service.probe.quality.as_dict(), "lag": service.probe.lag.as_dict(),
                "latency_window_ms": window_ms, "status": service.status()}

    def models_data() -> dict:
        ep = service.endpoints()
        versions, error = service.models.get(ep.bootstrap_servers, service.settings.models_topic)
        quality = {int(r.get("MODEL_VERSION") or r.get("VERSION") or 0): r for r in service.probe.quality.rows}
        live = service.scores.snapshot()["by_model"]
        rows = []
        for m in versions:
            d = m.as_dict()  # its role: champion, challenger, ... (the roles record in the topic)
            d["live"] = quality.get(m.version)
            d["scores_last_minute"] = live.get(str(m.version), 0)
            rows.append(d)
        return {"versions": rows, "error": error, "quality_error": service.probe.quality.error,
                "lifecycle": True, "topic": service.settings.models_topic}

    async def api_alerts(request: Request) -> Response:
        filters, chosen = _filters(request)
        items = service.book.query(filters)
        return JSONResponse({"filters": chosen, "alerts": items, "held": len(service.book)})

    async def api_overview(_: Request) -> Response:
        return JSONResponse(overview_data())

    async def api_models(_: Request) -> Response:
        return JSONResponse(await run_in_threadpool(models_data))

    async def fragment(request: Request) -> Response:
        name = request.path_params["name"]
        if name in ("quality", "lag"):
            data = overview_data()
        elif name == "models":
            data = await run_in_threadpool(models_data)
        elif name == "drift":
            data = service.drift.snapshot()
        else:
            return JSONResponse({"status": "not-found"}, 404)
        return HTMLResponse(env.get_template(f"_{name}.html").render(data=data),
                            headers={"cache-control": "no-store"})

    async def api_drift(_: Request) -> Response:
        return JSONResponse(service.drift.snapshot())

    async def api_status(_: Request) -> Response:
        return JSONResponse(service.status())

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def verdict(request: Request) -> Response:
        try:
            alert_id = int(request.path_params["alert_id"])
        except ValueError:
            return JSONResponse({"status": "bad-request", "message": "the alert ID is not a number"}, 400)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"status": "bad-request", "message": "the body is not a JSON object "
                                                                    "{\"verdict\": \"fraud\"|\"legit\", \"note\": …}"},
                                400)
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            return JSONResponse({"status": "bad-request", "message": "note must be text"}, 400)
        who = request.scope["state"]["analyst"]
        outcome = await run_in_threadpool(service.verdicts.give, alert_id, str(body.get("verdict", "")), note, who)
        return JSONResponse(outcome.as_dict(), status_code=outcome.http_status)

    async def model_action(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("promote", "rollback"):
            return JSONResponse({"status": "not-found", "message": f"no model action {action!r}"}, 404)
        life = models_mod.lifecycle(service.settings.models_topic)
        try:
            body = await request.json()
        except ValueError:
            body = {}
        who = request.scope["state"]["analyst"]
        ep = service.endpoints()
        try:
            if action == "promote":
                result = await run_in_threadpool(life.promote, ep, int(body["version"]))
            else:
                current = body.get("version")  # the champion the page showed (finds its model)
                result = await run_in_threadpool(life.rollback, ep, None if current is None else int(current))
        except (KeyError, ValueError, TypeError):
            return JSONResponse({"status": "bad-request", "message": "promote needs {\"version\": N}"}, 400)
        except Exception as exc:
            return JSONResponse({"status": "failed", "message": " ".join(str(exc).split())[:300]}, 409)
        service.models.invalidate()
        return JSONResponse({"status": "done", "message": f"{action} done by {who}", "result": str(result)})

    async def events(request: Request) -> Response:
        queue: asyncio.Queue = asyncio.Queue(maxsize=SSE_QUEUE)
        hub.queues.add(queue)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield _sse("hello", {"now_ms": int(time.time() * 1000), "status": service.status()})
                last_status = time.monotonic()
                while True:
                    try:
                        kind, data = await asyncio.wait_for(queue.get(), timeout=2.0)
                    except asyncio.TimeoutError:
                        kind, data = None, None
                    if kind == "overflow" or queue not in hub.queues:
                        yield _sse("resync", {})
                        return
                    if kind is not None:
                        yield _sse(kind, data)
                    if time.monotonic() - last_status >= 2.0:
                        last_status = time.monotonic()
                        yield _sse("status", service.status())
            finally:
                hub.queues.discard(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        hub.loop = asyncio.get_running_loop()
        if manage_service:
            service.start()
        try:
            yield
        finally:
            hub.loop = None
            if manage_service:
                await run_in_threadpool(service.stop)

    routes = [
        Route("/", home),
        Route("/alerts", alerts_page),
        Route("/overview", overview_page),
        Route("/models", models_page),
        Route("/drift", drift_page),
        Route("/events", events),
        Route("/health", health),
        Route("/api/status", api_status),
        Route("/api/alerts", api_alerts),
        Route("/api/alerts/{alert_id}/verdict", verdict, methods=["POST"]),
        Route("/api/overview", api_overview),
        Route("/api/models", api_models),
        Route("/api/models/{action:str}", model_action, methods=["POST"]),
        Route("/api/drift", api_drift),
        Route("/fragments/{name:str}", fragment),
        Mount("/static", CachedStatic(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.hub = hub
    app.state.service = service
    return AccessMiddleware(app, access)  # type: ignore[return-value]


def _sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()
