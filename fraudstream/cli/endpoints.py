"""Which cluster a command talks to: the environment's, or the embedded stack.

When KAFKA_BOOTSTRAP_SERVERS is set to a cluster of its own (compose, a user's cluster)
commands use it and start nothing. Otherwise they use the running embedded stack,
starting it first if needed, and put its URLs into the environment so service code
reads one place only. Endpoints that are the embedded stack's own (exported by
`eval "$(fraudstream env)"`) count as "the embedded stack", not as a user's cluster.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

from fraudstream.core import client_properties
from fraudstream.core.client_properties import redact_url
from fraudstream.core.settings import Endpoints
from fraudstream.stack import Stack

err = Console(stderr=True)

#: how long a command waits for the supervisor to restart a dead broker before it starts
#: one itself: the supervisor's longest backoff (30 s) plus a slow broker start
RESTART_WAIT_S = 120.0


def resolve(autostart: bool = True) -> Endpoints:
    env = Endpoints.from_env()
    stack = Stack()
    if env.bootstrap_servers and not stack.owns(env):
        return env
    # unset, or what `fraudstream env` printed for this stack: the stack, started if needed
    state = stack.running()
    if state is None and stack.restarting():
        # a broker killed or stopped a moment ago: its supervisor brings it back (backoff
        # up to 30 s, then its start); starting one here would race it, and give up when
        # the two collide
        err.print(f"[dim]the embedded Kafka broker is down and its supervisor is restarting it: waiting up to "
                  f"{RESTART_WAIT_S:.0f} s[/dim]")
        state = stack.wait_running(RESTART_WAIT_S)
    if state is None:
        if not autostart:
            return env
        why = ("the embedded stack named by KAFKA_BOOTSTRAP_SERVERS is not running" if env.bootstrap_servers
               else "no cluster configured (KAFKA_BOOTSTRAP_SERVERS unset)")
        err.print(f"[dim]{why}: starting the embedded stack; `fraudstream down` stops it[/dim]")
        state, _ = stack.up(progress=lambda m: err.print(f"[dim]  {m}[/dim]"))
    endpoints = state.endpoints()
    for key, value in endpoints.as_env().items():
        os.environ[key] = value
    return endpoints


def describe(endpoints: Endpoints) -> str:
    """The endpoints for a human; user info in a URL is never shown."""
    parts = [f"Kafka {endpoints.bootstrap_servers}"]
    if endpoints.schema_registry_url:
        parts.append(f"Schema Registry {redact_url(endpoints.schema_registry_url)}")
    if endpoints.ksql_url:
        parts.append(f"KSQL {redact_url(endpoints.ksql_url)}")
    props = client_properties.load()
    if props.path is not None:
        parts.append(f"client properties {props.path}")
    return ", ".join(parts)


def from_environment() -> bool:
    """A cluster is configured: KAFKA_BOOTSTRAP_SERVERS, or the properties file's bootstrap."""
    return bool(Endpoints.from_env().bootstrap_servers)


__all__ = ["resolve", "describe", "from_environment", "sys"]
