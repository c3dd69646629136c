"""The ``lro`` command."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from lro._core.errors import Error
from lro._store.urls import DATABASE_URL_ENV, default_url
from lro.cli._demo import run_demo
from lro.cli._logging import add_log_level, configure_logging
from lro.cli._operations import (
    add_operation_commands,
    operations_client,
    run_operation_command,
)
from lro.cli._purge import add_purge_command, run_purge
from lro.cli._security import add_security_options, security_from_args
from lro.cli._worker import add_worker_command, run_worker


def _version() -> str:
    try:
        return importlib.metadata.version("lro")
    except importlib.metadata.PackageNotFoundError:  # a checkout that is not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lro", description="Long-running operations.")
    parser.add_argument("--version", action="version", version=f"lro {_version()}")
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
    only = serve.add_mutually_exclusive_group()
    only.add_argument("--no-http", action="store_true", help="serve gRPC alone")
    only.add_argument("--no-grpc", action="store_true", help="serve HTTP alone")
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log each HTTP request (uvicorn's access log, at INFO whatever --log-level)",
    )
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
            from lro.cli._serve import ServeOptions, run_serve

            options = ServeOptions(
                args.host,
                None if args.no_grpc else args.grpc_port,
                None if args.no_http else args.http_port,
                args.log_level,
                args.access_log,
            )
            return run_serve(args.db or default_url(), options, security=security_from_args(args))
        configure_logging(args.log_level)
        with operations_client(args.db or default_url()) as client:
            run = run_purge if args.command == "purge" else run_operation_command
            return run(client, args)
    except Error as exc:
        print(f"lro: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 1
    return 0
