"""Bearer tokens and roles without a server: the token file, its reload, the roles."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lro
from lro.serving import BearerTokens, Caller, Role, TokenFile
from lro.serving._auth import ServiceAuth

READER = secrets.token_urlsafe(24)
WRITER = secrets.token_urlsafe(24)
ADMIN = secrets.token_urlsafe(24)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens"
    path.write_text(text)
    return path


def test_a_token_file_gives_each_token_its_role(tmp_path: Path) -> None:
    text = f"# operators\n\n{READER} read\n  {WRITER}\tWRITE  deploy-bot\n{ADMIN} admin # no\n"
    with pytest.raises(lro.InvalidArgument, match="line 5: expected 'TOKEN ROLE"):
        TokenFile(_file(tmp_path, text))
    tokens = TokenFile(_file(tmp_path, text.replace(" # no", "")))
    assert len(tokens) == 3
    assert tokens.authenticate(READER) == Caller(f"the token of {tokens.path} line 3", Role.READ)
    assert tokens.authenticate(WRITER) == Caller("deploy-bot", Role.WRITE)
    assert tokens.authenticate(ADMIN) == Caller(f"the token of {tokens.path} line 5", Role.ADMIN)
    assert tokens.authenticate(READER[:-1]) is None
    assert tokens.authenticate(READER + "x") is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"{READER} reader", "line 2: a role is read, write or admin"),
        (f"read {READER}", "line 2: a role is read, write or admin"),
        ("short-token read", "line 2: a token needs at least 16 characters"),
        (f"{READER}é read", "line 2: a token is made of visible ASCII characters"),
        (f"{READER}", "line 2: expected 'TOKEN ROLE [NAME]'"),
        (f"{WRITER} write", "line 2: the same token is given twice"),
    ],
)
def test_a_bad_line_is_named_by_its_number_and_never_shows_the_token(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(lro.InvalidArgument) as raised:
        TokenFile(_file(tmp_path, f"{WRITER} read\n{line}\n"))
    assert message in raised.value.message
    assert READER not in raised.value.message
    assert WRITER not in raised.value.message


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(lro.InvalidArgument, match="No such file"):
        TokenFile(tmp_path / "missing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe tokens")
    with pytest.raises(lro.InvalidArgument, match="not UTF-8"):
        TokenFile(binary)


def test_reload_puts_the_new_tokens_in_use_and_keeps_them_when_the_file_is_bad(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _file(tmp_path, f"{READER} read\n")
    tokens = TokenFile(path)
    path.write_text(f"{WRITER} write\n")
    assert tokens.reload()
    assert tokens.authenticate(READER) is None
    assert tokens.authenticate(WRITER) == Caller(f"the token of {path} line 1", Role.WRITE)
    path.write_text(f"{WRITER} write\n{ADMIN} boss\n")
    with caplog.at_level(logging.INFO, "lro"):
        assert not tokens.reload()
    assert tokens.authenticate(WRITER) is not None
    assert tokens.authenticate(ADMIN) is None
    assert f"kept the tokens in use: {path} line 2" in caplog.text
    assert ADMIN not in caplog.text
    assert WRITER not in caplog.text


def test_every_known_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = BearerTokens({READER: "read", WRITER: "write", ADMIN: "admin"})
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    assert tokens.authenticate(READER) == Caller("token 1", Role.READ)
    assert len(compared) == 3  # the match came first; the others were compared too
    assert all(len(a) == len(b) == 32 for a, b in compared)  # digests: lengths tell nothing
    assert tokens.authenticate("x" * 40) is None
    assert len(compared) == 6


def test_roles_include_the_roles_below_them() -> None:
    auth = ServiceAuth([BearerTokens({READER: "read", WRITER: "write", ADMIN: Role.ADMIN})])
    for token, allowed in ((READER, Role.READ), (WRITER, Role.WRITE), (ADMIN, Role.ADMIN)):
        for role in Role:
            if role <= allowed:
                assert auth.authorize(f"Bearer {token}", role, "x").role == allowed
            else:
                with pytest.raises(lro.PermissionDenied, match=f"needs {role.label}"):
                    auth.authorize(f"Bearer {token}", role, "x")


class _Refusing:
    """An authenticator that refuses every token with ``error``."""

    def __init__(self, error: lro.Error, blocks: bool) -> None:
        self.error = error
        self.blocks = blocks
        self.calls = 0

    def authenticate(self, token: str) -> Caller | None:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("run", ["sync", "async"])
def test_the_first_authenticator_that_knows_a_token_wins_else_the_strongest_refusal(
    run: str,
) -> None:
    tokens = BearerTokens({WRITER: "write"})
    expired = _Refusing(lro.Unauthenticated("expired"), blocks=True)
    unlisted = _Refusing(lro.PermissionDenied("no role here"), blocks=True)
    auth = ServiceAuth([expired, tokens, unlisted])

    def authorize(authorization: str | None) -> Caller:
        if run == "sync":
            return auth.authorize(authorization, Role.WRITE, "x")
        # On a thread of its own: a test before may leave a loop running on this one.
        coroutine = auth.authorize_async(authorization, Role.WRITE, "x")
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, coroutine).result()

    assert authorize(f"Bearer {WRITER}") == Caller("token 1", Role.WRITE)
    with pytest.raises(lro.PermissionDenied, match="no role here"):
        authorize(f"Bearer {READER}")
    with pytest.raises(lro.Unauthenticated, match="expired"):
        ServiceAuth([tokens, expired]).authorize(f"Bearer {READER}", Role.READ, "x")
    with pytest.raises(lro.Unauthenticated, match="not valid here"):
        ServiceAuth([tokens]).authorize(f"Bearer {READER}", Role.READ, "x")
    unavailable = _Refusing(lro.Unavailable("no certificates now"), blocks=True)
    with pytest.raises(lro.Unavailable, match="no certificates now"):  # worth a retry
        ServiceAuth([expired, tokens, unavailable]).authorize(f"Bearer {READER}", Role.READ, "x")
    calls = expired.calls
    for authorization in (None, "", f"Basic {WRITER}", "Bearer  ", WRITER):
        with pytest.raises(lro.Unauthenticated, match="needs 'authorization: Bearer TOKEN'"):
            authorize(authorization)
    assert expired.calls == calls  # no authenticator sees a malformed header


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(lro.InvalidArgument, match="at least 16"):
        BearerTokens({"short": "read"})
    with pytest.raises(lro.InvalidArgument, match="a role is read, write or admin"):
        BearerTokens({READER: "owner"})
    with pytest.raises(lro.InvalidArgument, match="at least one authenticator"):
        ServiceAuth([])
