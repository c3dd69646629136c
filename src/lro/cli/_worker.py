"""``lro worker``: resume the durable waits of an app's handlers, until stopped."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from lro._client import Client
from lro._core.errors import InvalidArgument
from lro._resume.worker import WorkerSettings
from lro._store.urls import DATABASE_URL_ENV
from lro.cli._logging import add_log_level, configure_logging
from lro.cli._terminal import is_terminal

SUMMARY_EVERY = 10.0


def add_worker_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lro worker`` to the command's subcommands."""
    worker = commands.add_parser(
        "worker", help="run a worker that resumes the durable waits of an app's handlers"
    )
    worker.add_argument(
        "--db", default=None, help=f"store URL; sets ${DATABASE_URL_ENV} before the app loads"
    )
    worker.add_argument(
        "--app", required=True, help="module:attribute of the lro.Client with the handlers"
    )
    defaults = WorkerSettings()
    worker.add_argument("--threads", type=int, default=defaults.threads)
    worker.add_argument("--lease", type=float, default=defaults.lease, help="seconds")
    worker.add_argument(
        "--poll-interval", type=float, default=defaults.poll_interval, help="seconds"
    )
    worker.add_argument("--max-attempts", type=int, default=defaults.max_attempts)
    worker.add_argument("--retry-delay", type=float, default=defaults.retry_delay)
    worker.add_argument(
        "--summary-every",
        type=float,
        default=SUMMARY_EVERY,
        help="seconds between summary lines on a terminal (claimed, finished, failed, "
        "lag); 0 for none",
    )
    add_log_level(worker, default="INFO")


def load_app(spec: str) -> Client:
    """The ``lro.Client`` named by ``module:attribute``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidArgument(f"--app must be module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(f"cannot import {module_name!r}: {exc}") from exc
    client = getattr(module, attribute, None)
    if not isinstance(client, Client):
        raise InvalidArgument(f"{spec!r} is not an lro.Client")
    return client


def run_worker(args: argparse.Namespace) -> int:
    """Run a worker for ``args.app`` until SIGTERM or SIGINT, then stop gracefully."""
    configure_logging(args.log_level)
    if args.db:
        os.environ[DATABASE_URL_ENV] = args.db
    client = load_app(args.app)
    settings = WorkerSettings(
        threads=args.threads,
        lease=args.lease,
        poll_interval=args.poll_interval,
        max_attempts=args.max_attempts,
        retry_delay=args.retry_delay,
    )
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    worker = client.start_worker(settings)
    handlers = ", ".join(sorted(client._handlers)) or "none"
    print(f"lro worker {worker.owner} on {client.store!r}; handlers: {handlers}", flush=True)
    summaries = is_terminal(sys.stdout) and args.summary_every > 0
    while not stop.wait(args.summary_every if summaries else None):
        print(f"lro worker: {worker.totals().line()}", flush=True)
    client.close()
    if summaries:
        print(f"lro worker: stopped; {worker.totals().line()}", flush=True)
    return 0
