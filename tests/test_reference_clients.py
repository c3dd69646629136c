"""The reference's examples that name a remote database run as written, with no server:
constructing a client does no I/O (the store opens on first use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_pages import block_with, page, run_script


@pytest.mark.parametrize(
    ("name", "marker"),
    [("storage", "postgresql://lro:secret@db.internal"), ("google-cloud", "spanner:///")],
)
def test_a_client_of_a_remote_store_is_made_without_connecting(
    tmp_path: Path, name: str, marker: str
) -> None:
    assert run_script(tmp_path, block_with(page(name), marker)) == []
