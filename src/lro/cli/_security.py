"""``lro serve``'s TLS and authentication options, and what the server does with them.

Secrets never come from a flag's value (``ps`` shows those): tokens are read from a
file, and the TLS key from its file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
from typing import Any

import grpc
import grpc.aio

from lro._core.errors import InvalidArgument
from lro.serving._auth import Authenticator, GoogleIdTokens, Role, TokenFile
from lro.serving._tls import TlsFiles, is_loopback, refuse_clear_text_beyond_loopback

LOGGER = logging.getLogger("lro.serving")


@dataclasses.dataclass(frozen=True, slots=True)
class ServeSecurity:
    """TLS files (None: clear text), the authenticators (none: every call is open),
    the token file to reload on SIGHUP, and whether clear text may go beyond loopback."""

    tls: TlsFiles | None = None
    authenticators: tuple[Authenticator, ...] = ()
    token_file: TokenFile | None = None
    insecure: bool = False

    @property
    def auth(self) -> list[Authenticator] | None:
        """The ``auth`` argument of the servicer and the HTTP app."""
        return list(self.authenticators) or None

    @property
    def http_scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "http" if self.tls is None else "https"

    def check(self, host: str) -> None:
        """Refuse clear text beyond loopback (unless insecure); warn of open calls."""
        refuse_clear_text_beyond_loopback(host, self.tls, self.insecure)
        if is_loopback(host):
            return
        if self.tls is None and self.authenticators:
            LOGGER.warning("serving on %s without TLS: tokens travel in clear text", host)
        if not self.authenticators:
            LOGGER.warning("serving on %s without --auth-*: any caller may cancel", host)

    def add_grpc_port(self, server: grpc.Server | grpc.aio.Server, address: str) -> int:
        """Bind ``server`` (``grpc.server`` or ``grpc.aio``) to ``address``, with TLS if
        configured; the bound port."""
        if self.tls is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, self.tls.grpc_credentials())

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments of ``uvicorn.Config`` for TLS (none without it)."""
        return {} if self.tls is None else self.tls.uvicorn_options()

    def reload_tokens_on_sighup(self) -> None:
        """Read the token file again whenever the process gets SIGHUP."""
        token_file = self.token_file
        if token_file is not None:
            signal.signal(signal.SIGHUP, lambda _signal, _frame: token_file.reload())


def add_security_options(serve: argparse.ArgumentParser) -> None:
    """The TLS and authentication options of ``lro serve``."""
    tls = serve.add_argument_group("TLS (both ports)")
    tls.add_argument("--tls-cert", metavar="FILE", help="server certificate chain (PEM)")
    tls.add_argument("--tls-key", metavar="FILE", help="its private key (PEM)")
    tls.add_argument(
        "--tls-client-ca", metavar="FILE", help="require client certificates of this CA (mTLS)"
    )
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="allow clear text on an address other machines can reach",
    )
    auth = serve.add_argument_group("authentication (authorization: Bearer TOKEN)")
    auth.add_argument(
        "--auth-tokens",
        metavar="FILE",
        help="one 'TOKEN ROLE [NAME]' a line (roles read, write, admin); re-read on SIGHUP",
    )
    auth.add_argument(
        "--auth-oidc-audience", metavar="AUD", help="accept Google ID tokens for this audience"
    )
    auth.add_argument(
        "--auth-oidc-account",
        metavar="EMAIL=ROLE",
        action="append",
        default=[],
        help="a service account whose ID tokens are accepted, and its role (repeatable)",
    )


def security_from_args(args: argparse.Namespace) -> ServeSecurity:
    """The security settings of ``lro serve``'s options; InvalidArgument if they are
    incomplete or a file does not read."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InvalidArgument("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key")
    tls = None
    if args.tls_cert:
        tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)
        tls.check()
    authenticators: list[Authenticator] = []
    token_file = TokenFile(args.auth_tokens) if args.auth_tokens else None
    if token_file is not None:
        authenticators.append(token_file)
    google = _google_id_tokens(args.auth_oidc_audience, args.auth_oidc_account)
    if google is not None:
        authenticators.append(google)
    return ServeSecurity(tls, tuple(authenticators), token_file, args.insecure)


def _google_id_tokens(audience: str | None, accounts: list[str]) -> GoogleIdTokens | None:
    if not audience and not accounts:
        return None
    if not audience or not accounts:
        raise InvalidArgument("--auth-oidc-audience and --auth-oidc-account go together")
    roles: dict[str, Role] = {}
    for account in accounts:
        email, _, role = account.rpartition("=")
        if not email:
            raise InvalidArgument(f"--auth-oidc-account {account!r}: expected EMAIL=ROLE")
        try:
            roles[email] = Role.named(role)
        except InvalidArgument as exc:
            raise InvalidArgument(f"--auth-oidc-account {email}: {exc.message}") from None
    return GoogleIdTokens(audience, roles)
