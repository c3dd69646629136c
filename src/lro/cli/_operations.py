"""``lro get/wait/list/cancel/delete``: the Operations service from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import google.longrunning.operations_proto_pb2 as operations_pb2

from lro._client import Client
from lro._core.operation_json import operation_json
from lro._store.urls import DATABASE_URL_ENV, open_store
from lro.cli import _terminal
from lro.cli._logging import add_log_level

NAMED = {
    "get": "print an operation",
    "wait": "wait for an operation, showing its progress; print it once done or when "
    "--timeout passes",
    "cancel": "cancel an operation (a done one stays as it is)",
    "delete": "delete an operation",
}
# Exit statuses of ``lro wait``.
DONE, FAILED, TIMED_OUT = 0, 1, 2


def _db_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--db", default=None, help=f"store URL (default ${DATABASE_URL_ENV} or lro.db)"
    )
    add_log_level(command, default=None)


def add_operation_commands(commands: Any) -> None:
    """Add get, wait, cancel, delete and list to the ``lro`` parser's subcommands."""
    for name, text in NAMED.items():
        command = commands.add_parser(name, help=text)
        command.add_argument("name", help="operation name, such as operations/123")
        _db_option(command)
        if name == "wait":
            command.add_argument(
                "--timeout",
                type=float,
                default=None,
                help="seconds; exit 0 once done, 1 if it failed, 2 if still running then",
            )
    listing = commands.add_parser(
        "list", help="list operations: a table on a terminal, else one JSON object a line"
    )
    listing.add_argument("--collection", default="operations", help="operations or a parent")
    listing.add_argument("--filter", default="", help='AIP-160, such as "done = false"')
    listing.add_argument("--page-size", type=int, default=0, help="0: the default (50)")
    listing.add_argument("--page-token", default="", help="from a previous page")
    listing.add_argument(
        "--output",
        choices=("json", "table"),
        default=None,
        help="table on a terminal and json (one object a line) elsewhere, unless given",
    )
    _db_option(listing)


def operations_client(url: str) -> Client:
    """The client of the commands of ``add_operation_commands``: none of them makes a
    database (a missing SQLite file is an error), and none runs a worker."""
    return Client(open_store(url, create=False), worker=False)


def run_operation_command(client: Client, args: argparse.Namespace) -> int:
    """Run one of the commands of ``add_operation_commands``, print its result and
    return the exit status."""
    if args.command == "list":
        _list(client, args)
        return 0
    if args.command == "delete":
        client.delete_operation(args.name)
        return 0
    if args.command == "get":
        operation = client.get_operation(args.name)
    elif args.command == "cancel":
        operation = client.cancel_operation(args.name)
    else:
        operation = _terminal.watch_wait(client, args.name, args.timeout)
    print(json.dumps(operation_json(operation), indent=2))
    return _wait_status(operation) if args.command == "wait" else 0


def _list(client: Client, args: argparse.Namespace) -> None:
    records, token = client._list_records_now(
        args.filter, args.page_size, args.page_token, args.collection
    )
    operations = [record.operation for record in records]
    output = args.output or ("table" if _terminal.is_terminal(sys.stdout) else "json")
    if output == "table":
        lines = _terminal.list_table(records) if records else ["no operations"]
        print("\n".join(lines))
        if token:
            print(f"next page: --page-token {token}")
        return
    for operation in operations:
        print(json.dumps(operation_json(operation)))
    if token:
        print(json.dumps({"nextPageToken": token}))


def _wait_status(operation: operations_pb2.Operation) -> int:
    if not operation.done:
        return TIMED_OUT
    return FAILED if operation.HasField("error") else DONE
