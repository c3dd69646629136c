"""Which addresses ``lro serve`` may listen on in clear text."""

from __future__ import annotations

import re

import pytest

import lro
from lro.serving._tls import TlsFiles, is_loopback, refuse_clear_text_beyond_loopback


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST", "a.localhost"]
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    refuse_clear_text_beyond_loopback(host, None, insecure=False)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "[::]", "10.1.2.3", "192.168.0.1", "fe80::1", "no-such-host.invalid"],  # noqa: S104
)
def test_other_addresses_need_tls_or_insecure(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(
        lro.FailedPrecondition, match=re.escape(f"refusing to serve on {host} without TLS")
    ):
        refuse_clear_text_beyond_loopback(host, None, insecure=False)
    refuse_clear_text_beyond_loopback(host, None, insecure=True)
    refuse_clear_text_beyond_loopback(host, TlsFiles("cert.pem", "key.pem"), insecure=False)
