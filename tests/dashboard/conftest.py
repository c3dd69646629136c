"""A real browser on the dashboard: headless Chromium (Debian's package) driven by
Playwright, against ``http_app(client, ui=True)`` under uvicorn on a free port.

Chromium is found at ``$LRO_TEST_CHROMIUM``, else ``/usr/bin/chromium``; Playwright never
downloads a browser of its own. Screenshots go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import lro
from lro.serving import http_app
from tests.conftest import skip_or_fail
from tests.serving.conftest import UvicornThread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ENV = "LRO_TEST_CHROMIUM"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


def chromium_path() -> str:
    """Where the Chromium binary is; skipped (failed in CI) without one."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(found, os.X_OK):
        skip_or_fail(f"no Chromium at {found} (apt-get install chromium, or ${CHROMIUM_ENV})")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (the dev extra has it)")
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def ui_client(tmp_path: Path) -> Iterator[lro.Client]:
    """A client on a fresh SQLite store, with its worker, for the dashboard to show."""
    with lro.Client(f"sqlite:///{tmp_path}/dashboard.db") as client:
        yield client


@pytest.fixture
def ui_url(ui_client: lro.Client) -> Iterator[str]:
    """Base URL of the HTTP app with the dashboard, serving ``ui_client``'s store."""
    server = UvicornThread(http_app(ui_client, ui=True))
    yield server.url
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page (its own cookies) that fails the test on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of the whole page as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
