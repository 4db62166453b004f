"""`fraudstream train --every DURATION`: retrain on a rolling window of labelled history,
publish each model as a challenger, and promote only when a stated rule says so.

The first run comes DURATION after the newest published version (at once when there is
none that recent). Each run is an ordinary `fraudstream train` run (`pipeline.run`, with `--window` if
given): it reads the labelled history, trains (the hybrid once enough frauds are
labelled), evaluates and publishes the new version as the challenger, which every scorer
then shadow-scores. Nothing is promoted by this loop unless `--auto-promote
METRIC:MARGIN@N` is given; then, every minute, the rule is applied to the live comparison
of the current champion and challenger (`fraudstream.clients.model_admin.auto_promote`,
the KSQL tables of ksql/monitoring/08_champion_challenger.ksql).

Publishing a new challenger ends the comparison of the one before (the tables compare
pairs): choose DURATION long enough for the challenger to see the N labelled events the
rule asks for. A run that fails (too few labelled rows yet, a broker away) is reported
and the next one is tried at its time; SIGTERM/SIGINT end the loop between runs (or
interrupt the wait) with exit code 0.
"""

from __future__ import annotations

import signal
import threading
import time

from fraudstream.core.errors import FraudstreamError

CHECK_S = 60.0


def run_every(args, opts, endpoints, out, err) -> int:
    from fraudstream.trainer import pipeline

    rule = None
    if args.auto_promote:
        from fraudstream.core.model_roles import AutoPromoteRule

        rule = AutoPromoteRule.parse(args.auto_promote)
        if not endpoints.ksql_url:
            raise FraudstreamError("--auto-promote reads the KSQL comparison tables: set KSQL_URL")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runs = failures = 0
    next_run = time.monotonic() + _first_wait(opts, endpoints, args.every, out)
    while not stop.is_set():
        if time.monotonic() >= next_run:
            next_run = time.monotonic() + args.every
            runs += 1
            try:
                result = pipeline.run(opts, endpoints, console=err)
                for line in pipeline.summary_lines(result.metrics):
                    out.print(line, highlight=False)
                if result.published:
                    out.print(f"run {runs}: published {opts.model_name} v{result.bundle.version} as "
                              f"{result.published[2]}", highlight=False)
            except FraudstreamError as exc:
                failures += 1
                err.print(f"run {runs} failed: {exc}; next run in {args.every:.0f}s", highlight=False)
        if rule is not None:
            _check(rule, opts, endpoints, out, err)
        stop.wait(max(0.0, min(CHECK_S if rule is not None else args.every, next_run - time.monotonic())))
    out.print(f"stopped after {runs} run(s), {failures} failed", highlight=False)
    return 0


def _first_wait(opts, endpoints, every: float, out) -> float:
    """Seconds until the first run: DURATION after the newest published version (its
    version is its publication time in ms), so a scheduler started next to a one-off
    trainer, or restarted, does not retrain at once; 0 when none is that recent."""
    from fraudstream.clients.models_topic import read_state

    try:
        newest = read_state(endpoints.bootstrap_servers, opts.models_topic, opts.model_name,
                            timeout=opts.timeout).newest_version
    except FraudstreamError:
        return 0.0  # the first run reports what is wrong
    wait = 0.0 if newest is None else newest / 1000 + every - time.time()
    if wait > 0:
        out.print(f"{opts.model_name} v{newest} was published {every - wait:.0f}s ago: first run in {wait:.0f}s",
                  highlight=False)
    return max(0.0, min(wait, every))


def _check(rule, opts, endpoints, out, err) -> None:
    from fraudstream.clients import model_admin

    try:
        decision = model_admin.auto_promote(endpoints.bootstrap_servers, opts.model_name, rule, endpoints.ksql_url,
                                            topic=opts.models_topic)
    except Exception as exc:  # noqa: BLE001 - the check is retried next minute; say why it failed
        err.print(f"auto-promotion check failed: {exc}", highlight=False)
        return
    if decision.promote:
        out.print(f"auto-promoted the challenger: {decision.why}", highlight=False)
