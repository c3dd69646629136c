"""Real RSA-signed ID tokens, and a local server of their certificates (as Google's)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

AUDIENCE = "https://svc.run.app"
EMAIL = "resumer@p.iam.gserviceaccount.com"
KEY_ID = "key-1"


def _key_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


PRIVATE, PUBLIC = _key_pem()
OTHER_PRIVATE, _ = _key_pem()


def signed_token(private: bytes = PRIVATE, key_id: str = KEY_ID, **claims: Any) -> str:
    """An ID token for ``AUDIENCE`` from ``EMAIL``, signed RS256; ``claims`` override."""
    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": EMAIL,
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    signer = crypt.RSASigner.from_string(private, key_id=key_id)  # type: ignore[no-untyped-call]
    token: bytes = jwt.encode(signer, payload)  # type: ignore[no-untyped-call]
    return token.decode()


class CertServer:
    """An HTTP server on 127.0.0.1 that serves the signing key as Google's certs URL
    does, with ``cache_control``; it counts the requests, and holds each answer until
    ``release()`` when made with ``held=True``."""

    def __init__(self, cache_control: str = "public, max-age=3600", held: bool = False) -> None:
        self.requests = 0
        self.answered = 0
        self.status = 200
        self._released = threading.Event()
        if not held:
            self._released.set()
        self._lock = threading.Lock()
        owner = self
        body = json.dumps({KEY_ID: PUBLIC.decode()}).encode()

        class Certs(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests += 1
                owner._released.wait(120)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                if cache_control:
                    self.send_header("Cache-Control", cache_control)
                self.end_headers()
                self.wfile.write(body)
                with owner._lock:
                    owner.answered += 1

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Certs)
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(0.05,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/certs"

    def release(self) -> None:
        """Let held requests be answered, and answer the next ones at once."""
        self._released.set()

    def wait_for_requests(self, count: int, timeout: float = 30) -> None:
        """Return once ``count`` requests arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.requests < count:
            assert time.monotonic() < deadline, f"{self.requests} of {count} requests came"
            time.sleep(0.01)

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CertServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
