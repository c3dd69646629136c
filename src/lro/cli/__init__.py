"""The ``lro`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lro._client import Client
from lro._core.errors import Error
from lro._store.urls import DATABASE_URL_ENV, default_url
from lro.cli._demo import run_demo
from lro.cli._logging import add_log_level
from lro.cli._operations import add_operation_commands, run_operation_command
from lro.cli._purge import add_purge_command, run_purge
from lro.cli._security import add_security_options, security_from_args
from lro.cli._worker import add_worker_command, run_worker


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lro", description="Long-running operations.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run an operation with two children, end to end")
    demo.add_argument("--db", default="sqlite:///lro-demo.db", help="store URL")
    add_operation_commands(commands)
    add_worker_command(commands)
    add_purge_command(commands)
    serve = commands.add_parser("serve", help="serve google.longrunning.Operations")
    serve.add_argument(
        "--db", default=None, help=f"store URL (default ${DATABASE_URL_ENV} or lro.db)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--grpc-port", type=int, default=50051, help="0 picks a free port")
    serve.add_argument("--http-port", type=int, default=8080, help="0 picks a free port")
    add_log_level(serve, default="WARNING")
    add_security_options(serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lro`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run_demo(args.db)
        if args.command == "worker":
            return run_worker(args)
        if args.command == "serve":
            from lro.cli._serve import run_serve

            return run_serve(
                args.db or default_url(),
                args.host,
                args.grpc_port,
                args.http_port,
                log_level=args.log_level,
                security=security_from_args(args),
            )
        with Client(args.db or default_url(), worker=False) as client:
            run = run_purge if args.command == "purge" else run_operation_command
            return run(client, args)
    except Error as exc:
        print(f"lro: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 1
    return 0
