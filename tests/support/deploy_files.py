"""Read the deployment files the way Docker would, without Docker: `.env`, the compose
file with its `${VAR}` interpolation, and the Dockerfile's instructions.

Only what the deploy tests need: the compose interpolation handles `${VAR}`,
`${VAR:-default}` and `${VAR:?message}` (the forms docker-compose.yml uses), and the
Dockerfile reader joins continuation lines and expands `${ARG}` from ARG defaults.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "fraudstream:latest"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def dotenv(path: Path = ROOT / ".env") -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name)
        if op in (":?", "?") and not value:
            raise KeyError(f"${{{name}}} is required: {arg}")
        if op in (":-", "-") and not value:
            return arg
        return value or ""
    return _VAR.sub(sub, text)


def compose(env: dict[str, str] | None = None) -> dict:
    """docker-compose.yml after interpolation with `env` (default: .env alone). Like
    Compose, the YAML is parsed first and string values are interpolated, so a version
    such as 3.11 stays the string "3.11"."""
    variables = dotenv() if env is None else env

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return interpolate(node, variables) if isinstance(node, str) else node

    return walk(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def app_services(spec: dict) -> dict[str, dict]:
    return {name: svc for name, svc in spec["services"].items() if svc.get("image") == IMAGE}


@dataclass
class Dockerfile:
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    home: dict[str, str] = field(default_factory=dict)  # user -> home directory
    owned: dict[str, str] = field(default_factory=dict)  # directory -> owner (install -d -o)
    copies: list[list[str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    base: str = ""


def dockerfile(path: Path = ROOT / "Dockerfile") -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text())
    df = Dockerfile()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        rest = _VAR.sub(lambda m: df.args.get(m.group(1), m.group(0)), rest.strip())
        if op == "ARG":
            name, _, default = rest.partition("=")
            df.args[name] = default
        elif op == "FROM":
            df.base = rest
        elif op == "WORKDIR":
            df.workdir = rest
        elif op == "USER":
            df.user = rest
        elif op == "COPY":
            df.copies.append(rest.split())
        elif op == "RUN":
            df.runs.append(rest)
            for command in re.split(r"&&|;", rest):
                words = shlex.split(command)
                if words[:1] == ["useradd"]:
                    name = words[-1]
                    if "--create-home" in words or "-m" in words:
                        df.home[name] = f"/home/{name}"
                elif words[:1] == ["install"] and "-d" in words and "-o" in words:
                    owner = words[words.index("-o") + 1]
                    skip = {words.index("-o") + 1}
                    if "-g" in words:
                        skip.add(words.index("-g") + 1)
                    for i, w in enumerate(words[1:], 1):
                        if i not in skip and not w.startswith("-"):
                            df.owned[w] = owner
    return df
