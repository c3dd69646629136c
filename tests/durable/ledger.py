"""The ledger that handlers in worker processes write: what ran, where, how often."""

from __future__ import annotations

import contextlib
import os
import sqlite3

LEDGER_ENV = "LRO_TEST_LEDGER"
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (name TEXT, token TEXT, pid INTEGER, start_ns INTEGER,
                                 end_ns INTEGER);
CREATE TABLE IF NOT EXISTS completions (name TEXT, token TEXT, pid INTEGER);
CREATE TABLE IF NOT EXISTS starts (name TEXT, token TEXT, pid INTEGER);
"""


def ledger(path: str | None = None) -> sqlite3.Connection:
    """A connection to the ledger (default: the file named by ``$LRO_TEST_LEDGER``)."""
    connection = sqlite3.connect(path or os.environ[LEDGER_ENV], timeout=30, isolation_level=None)
    connection.executescript(LEDGER_SCHEMA)
    return connection


def write(sql: str, values: tuple[object, ...]) -> None:
    """Run one INSERT on the ledger."""
    with contextlib.closing(ledger()) as connection:
        connection.execute(sql, values)


def distinct_pids(table: str) -> int:
    """How many processes wrote rows to ``table``."""
    with contextlib.closing(ledger()) as connection:
        (count,) = connection.execute(f"SELECT COUNT(DISTINCT pid) FROM {table}").fetchone()
        return int(count)
