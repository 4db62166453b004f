"""Who may use the console: accounts from the environment, the loopback rule, basic auth."""

from __future__ import annotations

import base64

import pytest

from fraudstream.console.auth import Accounts, basic_credentials, decide, hash_password, is_loopback
from fraudstream.core.errors import ConfigError


def header(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("[::1]", True),
                                       ("localhost", True), ("0.0.0.0", False), ("::", False),
                                       ("192.168.1.4", False), ("console.example", False)])
def test_loopback(host, loop):
    assert is_loopback(host) is loop


def test_accounts_from_the_environment_and_a_file(tmp_path):
    acc = Accounts.from_env({"FRAUDSTREAM_CONSOLE_USERS": "alice:s3cret-pw, bob:another-pw"})
    assert sorted(acc.users) == ["alice", "bob"]
    assert acc.check("alice", "s3cret-pw") and not acc.check("alice", "another-pw") and not acc.check("eve", "x" * 9)
    f = tmp_path / "users"
    f.write_text(f"# analysts\nalice:{hash_password('long-password')}\n\ncarol:plain-password\n")
    acc = Accounts.from_env({"FRAUDSTREAM_CONSOLE_USERS_FILE": str(f)})
    assert acc.check("alice", "long-password") and not acc.check("alice", "long-passwordX")
    assert acc.check("carol", "plain-password")
    assert not Accounts.from_env({})


@pytest.mark.parametrize("value,message", [
    ("alice", "has no password"), ("alice:", "has no password"), ("al ice:password1", "account name"),
    ("alice:short", "shorter than 8"), ("alice:password1,alice:password2", "listed twice")])
def test_bad_accounts_are_refused_with_the_reason(value, message):
    with pytest.raises(ConfigError, match=message):
        Accounts.from_env({"FRAUDSTREAM_CONSOLE_USERS": value})


def test_a_bad_line_of_the_file_is_named(tmp_path):
    f = tmp_path / "users"
    f.write_text("alice:password-one\nbob\n")
    with pytest.raises(ConfigError, match=rf"{f}:2: account 'bob' has no password"):
        Accounts.from_env({"FRAUDSTREAM_CONSOLE_USERS_FILE": str(f)})
    with pytest.raises(ConfigError, match="cannot read"):
        Accounts.from_env({"FRAUDSTREAM_CONSOLE_USERS_FILE": str(tmp_path / "missing")})


def test_off_loopback_without_accounts_is_refused_there_is_no_default_password():
    with pytest.raises(ConfigError, match="needs a login.*no default password"):
        decide("0.0.0.0", Accounts())
    access = decide("0.0.0.0", Accounts({"alice": "password-1"}))
    assert access.login_required
    assert access.identify(None) is None
    assert access.identify(header("alice", "wrong-password")) is None
    assert access.identify(header("alice", "password-1")) == "alice"


def test_on_loopback_the_local_user_gives_verdicts_unless_accounts_are_set():
    open_access = decide("127.0.0.1", Accounts())
    assert not open_access.login_required
    assert open_access.identify(None).startswith("local:")
    closed = decide("127.0.0.1", Accounts({"alice": "password-1"}))
    assert closed.login_required and closed.identify(None) is None


def test_one_time_password_is_random_and_long():
    a1, p1 = Accounts.one_time()
    _, p2 = Accounts.one_time()
    assert p1 != p2 and len(p1) >= 20 and a1.check("analyst", p1)


@pytest.mark.parametrize("value", [None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()])
def test_malformed_authorization_headers_identify_nobody(value):
    assert basic_credentials(value) is None
