"""Who may use the console, and who gave a verdict.

Rules (issue 17): on the loopback interface the console is open to the local user, as
every other fraudstream command is; bound to any other address it requires a login
(HTTP basic auth), with the accounts taken from the environment, never a default
password. Every verdict records who gave it: the login name, or on loopback without
accounts, `local:<the OS user running the console>`.

Accounts: `FRAUDSTREAM_CONSOLE_USERS="alice:secret,bob:other"`, or a file named by
`FRAUDSTREAM_CONSOLE_USERS_FILE` with one `name:password` per line (`#` comments).
A password may be given as a PBKDF2 hash (`pbkdf2_sha256$ITERATIONS$SALT$HASH`, what
`python -m fraudstream.console.auth hash` prints) so the file need not hold it in clear.
`--one-time-password` (compose) makes one random password for the account `analyst` at
start and prints it, as Jupyter prints its token.

Basic auth because the browser asks for it natively, EventSource sends it along with
every request of the page, and it needs no session store; behind it, state-changing
requests also need the `X-Console` header (a custom header a cross-site form cannot send,
so a page elsewhere cannot make a logged-in analyst's browser give a verdict).
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fraudstream.core.errors import ConfigError

ENV_USERS = "FRAUDSTREAM_CONSOLE_USERS"
ENV_USERS_FILE = "FRAUDSTREAM_CONSOLE_USERS_FILE"
CSRF_HEADER = "x-console"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_HASH = re.compile(r"pbkdf2_sha256\$(\d+)\$([0-9a-f]+)\$([0-9a-f]{64})")
PBKDF2_ITERATIONS = 200_000


def is_loopback(host: str) -> bool:
    """True when `host` is a loopback address or `localhost` (what only this machine reaches)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hash_password(password: str, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def _matches(stored: str, given: str) -> bool:
    m = _HASH.fullmatch(stored)
    if m:
        iterations, salt, digest = int(m.group(1)), m.group(2), m.group(3)
        got = hashlib.pbkdf2_hmac("sha256", given.encode(), bytes.fromhex(salt), iterations).hex()
        return hmac.compare_digest(got, digest)
    return hmac.compare_digest(stored.encode(), given.encode())


@dataclass
class Accounts:
    """name -> password (clear or PBKDF2 hash); empty = no login configured."""

    users: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def __bool__(self) -> bool:
        return bool(self.users)

    def check(self, name: str, password: str) -> bool:
        stored = self.users.get(name)
        if stored is None:
            _matches("x" * 8, password)  # same work for an unknown name
            return False
        return _matches(stored, password)

    @classmethod
    def parse(cls, text: str, origin: str, separators: str = ",\n") -> "Accounts":
        users: dict[str, str] = {}
        line = 0
        for chunk in re.split(f"[{re.escape(separators)}]", text):
            line += 1
            entry = chunk.strip()
            if not entry or entry.startswith("#"):
                continue
            name, sep, password = entry.partition(":")
            where = f"{origin}:{line}" if separators == "\n" else f"{origin} (entry {line})"
            if not sep or not password:
                raise ConfigError(f"{where}: account {name!r} has no password (expected name:password)")
            if not _NAME.fullmatch(name):
                raise ConfigError(f"{where}: account name {name!r} must be 1-64 letters, digits, '_', '.', '@' "
                                  f"or '-'")
            if name in users:
                raise ConfigError(f"{where}: account {name!r} is listed twice")
            if len(password) < 8 and not _HASH.fullmatch(password):
                raise ConfigError(f"{where}: the password of {name!r} is shorter than 8 characters")
            users[name] = password
        return cls(users, origin)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Accounts":
        env = os.environ if environ is None else environ
        inline = env.get(ENV_USERS, "").strip()
        path = env.get(ENV_USERS_FILE, "").strip()
        if inline and path:
            raise ConfigError(f"set {ENV_USERS} or {ENV_USERS_FILE}, not both")
        if inline:
            return cls.parse(inline, ENV_USERS, ",")
        if path:
            p = Path(path).expanduser()
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{ENV_USERS_FILE}={path}: cannot read: {exc.strerror}") from None
            return cls.parse(text, str(p), "\n")
        return cls()

    @classmethod
    def one_time(cls) -> tuple["Accounts", str]:
        password = secrets.token_urlsafe(18)
        return cls({"analyst": password}, "one-time password"), password


def local_identity() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except Exception:  # no user name for this uid (a container)
        return f"local:uid{os.getuid()}"


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(name, password) of an `Authorization: Basic …` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


@dataclass
class Access:
    """The console's access rule, decided once at start from where it listens."""

    accounts: Accounts
    loopback_only: bool

    @property
    def login_required(self) -> bool:
        return bool(self.accounts) or not self.loopback_only

    def identify(self, authorization: str | None) -> str | None:
        """The analyst behind a request: a login name, `local:<user>` when no login is
        needed, or None (answer 401)."""
        if not self.login_required:
            return local_identity()
        creds = basic_credentials(authorization)
        if creds is None or not self.accounts.check(*creds):
            return None
        return creds[0]


def decide(host: str, accounts: Accounts) -> Access:
    """The access rule for listening on `host`; refuses a non-loopback address without accounts."""
    loopback = is_loopback(host)
    if not loopback and not accounts:
        raise ConfigError(f"--host {host} is reachable from other machines, so the console needs a login: set "
                          f"{ENV_USERS}=name:password[,name:password…] (or {ENV_USERS_FILE}=FILE), or pass "
                          f"--one-time-password; there is no default password")
    return Access(accounts, loopback)


def _main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] != "hash":
        print("usage: python -m fraudstream.console.auth hash   (reads a password, prints its PBKDF2 hash)",
              file=sys.stderr)
        return 2
    password = getpass.getpass("password: ")
    if len(password) < 8:
        print("error: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
