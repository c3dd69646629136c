"""``lro serve`` serves the dashboard on its HTTP port."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import expect

import lro

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_lro_serve_serves_the_dashboard(page: Page, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    with lro.Client(url) as client:
        name = client.new_operation().name
    command = [sys.executable, "-m", "lro.cli", "serve", "--db", url]
    with subprocess.Popen(
        [*command, "--grpc-port", "0", "--http-port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            lines = process.stdout.readline() + process.stdout.readline()
            http = re.search(r"lro: HTTP on (http://127\.0\.0\.1:\d+)", lines)
            assert http, lines
            page.goto(f"{http.group(1)}/ui/")
            expect(page.locator(f'tr[data-name="{name}"]')).to_have_count(1, timeout=15_000)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
