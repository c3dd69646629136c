"""``lro purge``: delete done operations older than a duration (AIP-151 expiry)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from lro._client import Client
from lro._client_base import purge_query
from lro._store.retention import purge
from lro._store.urls import DATABASE_URL_ENV
from lro.cli._logging import add_log_level

UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)([dhms]))+")
_PART = re.compile(r"(\d+)([dhms])")


def duration(text: str) -> float:
    """Seconds in ``text``: a number and a unit (d, h, m, s), or several, as ``1d12h``."""
    if not _DURATION.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected a number and a unit, such as 90d, 12h, "
            "30m or 45s (or several, such as 1d12h)"
        )
    return float(sum(int(n) * UNIT_SECONDS[unit] for n, unit in _PART.findall(text)))


def add_purge_command(commands: Any) -> None:
    """Add ``lro purge`` to the ``lro`` parser's subcommands."""
    command = commands.add_parser(
        "purge", help="delete the done operations not updated for --older-than"
    )
    command.add_argument(
        "--db", default=None, help=f"store URL (default ${DATABASE_URL_ENV} or lro.db)"
    )
    add_log_level(command, default=None)
    command.add_argument(
        "--older-than", type=duration, required=True, help="such as 90d, 12h, 30m or 45s"
    )
    command.add_argument("--filter", default="", help='AIP-160, such as "error.code = 0"')
    command.add_argument("--collection", default="operations", help="operations or a parent")
    command.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )


def run_purge(client: Client, args: argparse.Namespace) -> int:
    """Purge (or count, with ``--dry-run``) and print how many operations."""
    if args.dry_run:
        query = purge_query(
            client.runtime.clock.now_us(), args.older_than, args.filter, args.collection
        )
        count = purge(client.store, query, dry_run=True)
        print(f"{_operations(count)} would be deleted (dry run)")
        return 0
    deleted = client.purge(
        older_than=args.older_than, filter=args.filter, collection=args.collection
    )
    print(f"deleted {_operations(deleted)}")
    return 0


def _operations(count: int) -> str:
    return f"{count} operation" if count == 1 else f"{count} operations"
