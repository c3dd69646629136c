"""``GET /healthz``: 200 while the store answers a read, 503 with no detail when it does
not; it needs no credential."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import lro
from lro.serving import TokenFile, http_app
from tests.postgres_server import PrivateServer, running_private_server
from tests.serving.conftest import UvicornThread


def test_healthz_answers_ok_on_every_backend(client: lro.Client) -> None:
    server = UvicornThread(http_app(client))
    try:
        answer = requests.get(f"{server.url}/healthz", timeout=30)
    finally:
        server.stop()
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_healthz_needs_no_credential(sqlite_client: lro.Client, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("a-long-enough-read-token-0123456789 read\n")
    server = UvicornThread(http_app(sqlite_client, auth=TokenFile(str(tokens))))
    try:
        health = requests.get(f"{server.url}/healthz", timeout=30)
        listing = requests.get(f"{server.url}/v1/operations", timeout=30)
    finally:
        server.stop()
    assert (health.status_code, listing.status_code) == (200, 401)


@pytest.fixture
def postgres() -> Iterator[PrivateServer]:
    with running_private_server() as private:
        yield private


def test_healthz_says_503_and_no_more_while_the_store_is_down(
    postgres: PrivateServer, caplog: pytest.LogCaptureFixture
) -> None:
    with lro.Client(f"{postgres.url}?pool_timeout=2", worker=False) as client:
        server = UvicornThread(http_app(client))
        try:
            before = requests.get(f"{server.url}/healthz", timeout=30)
            postgres.stop()
            with caplog.at_level(logging.WARNING, "lro.serving"):
                during = requests.get(f"{server.url}/healthz", timeout=60)
            postgres.start()
            after = requests.get(f"{server.url}/healthz", timeout=60)
        finally:
            server.stop()
    assert (before.status_code, during.status_code, after.status_code) == (200, 503, 200)
    assert during.json() == {"status": "unavailable"}
    assert str(postgres.port) not in during.text
    assert any("/healthz" in record.getMessage() for record in caplog.records)
