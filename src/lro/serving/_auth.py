"""Who may call the Operations service, and what each caller may do.

A caller presents ``authorization: Bearer TOKEN`` (gRPC metadata or HTTP header). An
authenticator turns the token into a ``Caller`` with a ``Role``: bearer tokens from a
mapping or a file (``BearerTokens``, ``TokenFile``), or Google ID tokens of listed
service accounts (``GoogleIdTokens``). No credential or a bad one is Unauthenticated
(401); a valid one whose role is too low for the call is PermissionDenied (403).

Tokens are compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from lro._core.errors import Error, InvalidArgument, PermissionDenied, Unauthenticated
from lro._resume.auth import CERTS_TIMEOUT, GOOGLE_CERTS_URL, GOOGLE_ISSUERS, OidcAuthenticator

LOGGER = logging.getLogger("lro.serving")
MIN_TOKEN_LENGTH = 16
AUTH_THREADS = 2  # certificate fetches are single-flight; more threads would only wait


class Role(enum.IntEnum):
    """What a caller may do; each role includes the ones below it."""

    READ = 1  # GetOperation, ListOperations, WaitOperation, the dashboard's pages
    WRITE = 2  # CancelOperation, DeleteOperation, the dashboard's buttons
    ADMIN = 3  # purging

    @classmethod
    def named(cls, name: str | Role) -> Role:
        """The role called ``name`` (``read``, ``write`` or ``admin``)."""
        if isinstance(name, Role):
            return name
        try:
            return cls[name.upper()]
        except KeyError:
            # The text is not echoed: a line with its fields swapped holds a token there.
            raise InvalidArgument("a role is read, write or admin") from None

    @property
    def label(self) -> str:
        """The role's name as written in token files: ``read``, ``write``, ``admin``."""
        return self.name.lower()


# The role each RPC of google.longrunning.Operations needs.
RPC_ROLES: dict[str, Role] = {
    "GetOperation": Role.READ,
    "ListOperations": Role.READ,
    "WaitOperation": Role.READ,
    "CancelOperation": Role.WRITE,
    "DeleteOperation": Role.WRITE,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """Who called, as the logs may name them (never the token), and their role."""

    identity: str
    role: Role


class Authenticator(Protocol):
    """Turns a bearer token into a caller.

    ``authenticate`` returns None for a token it does not know (another authenticator
    may), raises Unauthenticated for one it knows to be bad (an expired ID token) and
    PermissionDenied for a valid one that has no role here. An authenticator whose
    ``blocks`` attribute is False runs on the event loop of an asyncio server; any
    other runs on a thread of its own.
    """

    def authenticate(self, token: str) -> Caller | None:
        """The caller that ``token`` stands for, or None if this authenticator does
        not know it."""
        ...


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _check_token(token: str, where: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH:
        raise InvalidArgument(f"{where}: a token needs at least {MIN_TOKEN_LENGTH} characters")
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise InvalidArgument(f"{where}: a token is made of visible ASCII characters")


class _TokenTable:
    """Digests of tokens and their callers; a lookup compares with every one of them."""

    def __init__(self) -> None:
        self._entries: list[tuple[bytes, Caller]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, token: str, caller: Caller, where: str) -> None:
        _check_token(token, where)
        digest = _digest(token)
        if any(hmac.compare_digest(digest, known) for known, _ in self._entries):
            raise InvalidArgument(f"{where}: the same token is given twice")
        self._entries.append((digest, caller))

    def caller(self, token: str) -> Caller | None:
        presented = _digest(token)
        found = None
        for digest, caller in self._entries:
            if hmac.compare_digest(presented, digest):
                found = caller
        return found


class BearerTokens:
    """Fixed tokens, each with a role: ``BearerTokens({token: "read", ...})``.

    Each token needs at least 16 visible ASCII characters. A presented token is
    compared with every known one, in constant time.
    """

    blocks = False

    def __init__(self, tokens: Mapping[str, Role | str]) -> None:
        self._table = _TokenTable()
        for number, (token, role) in enumerate(tokens.items(), start=1):
            name = f"token {number}"
            self._table.add(token, Caller(name, Role.named(role)), name)

    def __len__(self) -> int:
        return len(self._table)

    def authenticate(self, token: str) -> Caller | None:
        """The caller of ``token``, or None if it is none of the tokens."""
        return self._table.caller(token)


class TokenFile:
    """Tokens read from a file, one ``TOKEN ROLE [NAME]`` a line.

    ``ROLE`` is ``read``, ``write`` or ``admin``; ``NAME`` (optional) names the caller
    in the logs. Blank lines and lines starting with ``#`` are skipped. ``reload()``
    reads the file again (``lro serve`` calls it on SIGHUP); a file that no longer
    reads keeps the tokens in use and logs why, by line number.
    """

    blocks = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._table = self._read()

    def __len__(self) -> int:
        return len(self._table)

    def authenticate(self, token: str) -> Caller | None:
        """The caller of ``token``, or None if the file does not list it."""
        return self._table.caller(token)

    def reload(self) -> bool:
        """Read the file again; True if its tokens are now in use."""
        with self._lock:
            try:
                self._table = self._read()
            except InvalidArgument as exc:
                LOGGER.error("kept the tokens in use: %s", exc.message)
                return False
        LOGGER.info("read %d tokens from %s", len(self._table), self.path)
        return True

    def _read(self) -> _TokenTable:
        try:
            with open(self.path, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise InvalidArgument(f"cannot read the tokens in {self.path}: {reason}") from None
        table = _TokenTable()
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                _add_line(table, fields, f"{self.path} line {number}")
        return table


def _add_line(table: _TokenTable, fields: Sequence[str], where: str) -> None:
    if len(fields) not in (2, 3):
        raise InvalidArgument(f"{where}: expected 'TOKEN ROLE [NAME]'")
    try:
        role = Role.named(fields[1])
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc.message}") from None
    name = fields[2] if len(fields) == 3 else f"the token of {where}"
    table.add(fields[0], Caller(name, role), where)


class GoogleIdTokens:
    """Google-signed ID tokens for ``audience``, from the service accounts listed in
    ``accounts`` (email -> role).

    The token is checked by the resume endpoint's ``lro.OidcAuthenticator`` (its
    shape, signature, times, audience and issuer, with Google's certificates kept for
    their max-age); then its email, which must be verified, gives the role. A valid
    token of an account not listed is PermissionDenied.
    """

    blocks = True  # a certificate fetch may wait on the network

    def __init__(
        self,
        audience: str,
        accounts: Mapping[str, Role | str],
        *,
        issuers: Collection[str] = GOOGLE_ISSUERS,
        certs_url: str = GOOGLE_CERTS_URL,
        certs_timeout: float = CERTS_TIMEOUT,
        request: Any = None,
    ) -> None:
        if not accounts:
            raise InvalidArgument("GoogleIdTokens needs at least one service account")
        self.accounts = {email: Role.named(role) for email, role in accounts.items()}
        self._verifier = OidcAuthenticator(
            audience,
            service_account_emails=self.accounts,
            issuers=issuers,
            certs_url=certs_url,
            certs_timeout=certs_timeout,
            request=request,
        )

    def authenticate(self, token: str) -> Caller:
        """The caller of a valid ID token; raises otherwise."""
        claims = self._verifier.claims(token)
        email = claims.get("email")
        if claims.get("email_verified") is not True or email not in self.accounts:
            raise PermissionDenied("the token's account has no role here")
        return Caller(email, self.accounts[email])


AuthArgument = Authenticator | Sequence[Authenticator] | None


def bearer_token(authorization: str | None) -> str:
    """The token of an ``authorization: Bearer TOKEN`` value; Unauthenticated if none."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("this call needs 'authorization: Bearer TOKEN'")
    return token.strip()


class ServiceAuth:
    """The authenticators of one server, tried in turn; the first to know a token wins.

    When none knows it, the strongest refusal is raised: PermissionDenied over any
    other error over Unauthenticated.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        if not authenticators:
            raise InvalidArgument("auth needs at least one authenticator")
        self._inline = [a for a in authenticators if getattr(a, "blocks", True) is False]
        self._blocking = [a for a in authenticators if getattr(a, "blocks", True) is not False]
        self._threads = ThreadPoolExecutor(AUTH_THREADS, "lro-serving-auth")

    @classmethod
    def of(cls, auth: AuthArgument | ServiceAuth) -> ServiceAuth | None:
        """``auth`` as given to a servicer or ``http_app``: one authenticator, several,
        or None (no authentication)."""
        if auth is None or isinstance(auth, ServiceAuth):
            return auth
        if isinstance(auth, Sequence):
            return cls(list(auth))
        return cls([auth])

    def authorize(self, authorization: str | None, role: Role, call: str) -> Caller:
        """The caller of ``authorization`` if their role allows ``call``; else raises."""
        token = bearer_token(authorization)
        refusals: list[Exception] = []
        caller = _first_caller(self._inline + self._blocking, token, refusals)
        if caller is None:
            raise _strongest(refusals)
        return _allowed(caller, role, call)

    async def authorize_async(self, authorization: str | None, role: Role, call: str) -> Caller:
        """``authorize`` for asyncio servers: blocking authenticators run on threads."""
        token = bearer_token(authorization)
        refusals: list[Exception] = []
        caller = _first_caller(self._inline, token, refusals)
        if caller is None and self._blocking:
            loop = asyncio.get_running_loop()
            caller = await loop.run_in_executor(
                self._threads, _first_caller, self._blocking, token, refusals
            )
        if caller is None:
            raise _strongest(refusals)
        return _allowed(caller, role, call)


def _first_caller(
    authenticators: Sequence[Authenticator], token: str, refusals: list[Exception]
) -> Caller | None:
    """The first caller that one of ``authenticators`` finds for ``token``; their
    refusals are added to ``refusals``."""
    for authenticator in authenticators:
        try:
            caller = authenticator.authenticate(token)
        except Error as exc:
            refusals.append(exc)
            continue
        if caller is not None:
            return caller
    return None


def _strongest(refusals: Sequence[Exception]) -> Exception:
    for refusal in refusals:
        if isinstance(refusal, PermissionDenied):
            return refusal
    for refusal in refusals:
        if not isinstance(refusal, Unauthenticated):
            return refusal
    return refusals[0] if refusals else Unauthenticated("the credential is not valid here")


def _allowed(caller: Caller, role: Role, call: str) -> Caller:
    if caller.role < role:
        LOGGER.info("%s (role %s) may not call %s", caller.identity, caller.role.label, call)
        raise PermissionDenied(
            f"the role {caller.role.label} may not call {call}; it needs {role.label}"
        )
    return caller
