"""``lro get/wait/list/cancel/delete``: the Operations service from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from google.protobuf import json_format

from lro._client import Client
from lro._store.urls import DATABASE_URL_ENV

NAMED = {
    "get": "print an operation",
    "wait": "wait for an operation; print it once done or when --timeout passes",
    "cancel": "cancel an operation (a done one stays as it is)",
    "delete": "delete an operation",
}


def _db_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--db", default=None, help=f"store URL (default ${DATABASE_URL_ENV} or lro.db)"
    )


def add_operation_commands(commands: Any) -> None:
    """Add get, wait, cancel, delete and list to the ``lro`` parser's subcommands."""
    for name, text in NAMED.items():
        command = commands.add_parser(name, help=text)
        command.add_argument("name", help="operation name, such as operations/123")
        _db_option(command)
        if name == "wait":
            command.add_argument("--timeout", type=float, default=None, help="seconds")
    listing = commands.add_parser("list", help="list operations, one JSON object a line")
    listing.add_argument("--collection", default="operations", help="operations or a parent")
    listing.add_argument("--filter", default="", help='AIP-160, such as "done = false"')
    listing.add_argument("--page-size", type=int, default=0, help="0: the default (50)")
    listing.add_argument("--page-token", default="", help="from a previous page")
    _db_option(listing)


def run_operation_command(client: Client, args: argparse.Namespace) -> None:
    """Run one of the commands of ``add_operation_commands`` and print its result."""
    if args.command == "list":
        operations, token = client.list_operations(
            args.filter, args.page_size, args.page_token, name=args.collection
        )
        for operation in operations:
            print(json.dumps(json_format.MessageToDict(operation)))
        if token:
            print(json.dumps({"nextPageToken": token}))
        return
    if args.command == "delete":
        client.delete_operation(args.name)
        return
    if args.command == "get":
        operation = client.get_operation(args.name)
    elif args.command == "cancel":
        operation = client.cancel_operation(args.name)
    else:
        operation = client.wait_operation(args.name, timeout=args.timeout)
    print(json_format.MessageToJson(operation))
