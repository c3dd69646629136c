"""TLS for ``lro serve``: one certificate and key (PEM) for both ports, and optionally
a CA whose client certificates are required (mutual TLS).

Without TLS, ``lro serve`` listens on a loopback address only, unless told
``--insecure``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import ssl
from typing import Any

import grpc

from lro._core.errors import FailedPrecondition, InvalidArgument

SHUTDOWN_SECONDS = 5


@dataclasses.dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths of the server's certificate chain, its private key, and the CA of the
    client certificates to require (None: clients need no certificate)."""

    cert: str
    key: str
    client_ca: str | None = None

    def check(self) -> None:
        """InvalidArgument unless the files read, and the key is the certificate's."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert, self.key)
        except OSError as exc:  # ssl.SSLError is one too
            raise InvalidArgument(
                f"cannot use the certificate {self.cert} with the key {self.key}: {_reason(exc)}"
            ) from None
        if self.client_ca is not None:
            try:
                context.load_verify_locations(cafile=self.client_ca)
            except OSError as exc:
                raise InvalidArgument(
                    f"cannot use the client CA {self.client_ca}: {_reason(exc)}"
                ) from None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for ``grpc.Server.add_secure_port``."""
        chain = _read(self.cert)
        client_ca = _read(self.client_ca) if self.client_ca else None
        return grpc.ssl_server_credentials(
            [(_read(self.key), chain)],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments of ``uvicorn.Config`` that serve HTTPS with these files."""
        return {
            "ssl_certfile": self.cert,
            "ssl_keyfile": self.key,
            "ssl_ca_certs": self.client_ca,
            "ssl_cert_reqs": ssl.CERT_REQUIRED if self.client_ca else ssl.CERT_NONE,
            # A client that keeps an idle TLS connection open would otherwise hold the
            # shutdown for asyncio's SSL shutdown timeout (30 s).
            "timeout_graceful_shutdown": SHUTDOWN_SECONDS,
        }


def _reason(exc: OSError) -> str:
    return str(getattr(exc, "reason", None) or exc.strerror or exc)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1,
    localhost, or a name that resolves to loopback addresses only)."""
    bare = host.strip("[]")
    if bare.lower() == "localhost" or bare.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(bare, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(found) and all(
        ipaddress.ip_address(str(address[4][0]).split("%")[0]).is_loopback for address in found
    )


def refuse_clear_text_beyond_loopback(host: str, tls: TlsFiles | None, insecure: bool) -> None:
    """FailedPrecondition, in one line, if ``host`` is reachable from other machines
    and neither TLS nor ``insecure`` was asked for."""
    if tls is None and not insecure and not is_loopback(host):
        raise FailedPrecondition(
            f"refusing to serve on {host} without TLS: give --tls-cert and --tls-key, "
            "or --insecure to allow clear text beyond this machine"
        )
