"""``lro worker``: resume the durable waits of an app's handlers, until stopped."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import threading

from lro._client import Client
from lro._core.errors import InvalidArgument
from lro._resume.worker import Worker, WorkerSettings
from lro._store.urls import DATABASE_URL_ENV
from lro.aio import Client as AsyncClient
from lro.cli._logging import add_log_level, configure_logging
from lro.cli._purge import duration
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
        "--app",
        required=True,
        help="module:attribute of the lro.Client (or lro.aio.Client) with the handlers",
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
        "--retention",
        type=duration,
        default=None,
        help="delete the done operations not updated for this long (such as 90d), "
        "now and every --purge-interval; default: keep them",
    )
    worker.add_argument(
        "--purge-interval", type=duration, default=defaults.purge_interval, help="such as 1h"
    )
    worker.add_argument(
        "--summary-every",
        type=float,
        default=SUMMARY_EVERY,
        help="seconds between summary lines on a terminal (claimed, finished, failed, "
        "lag); 0 for none",
    )
    add_log_level(worker, default="INFO")


def load_app(spec: str) -> Client | AsyncClient:
    """The ``lro.Client`` (or ``lro.aio.Client``) named by ``module:attribute``."""
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
    if not isinstance(client, Client | AsyncClient):
        raise InvalidArgument(f"{spec!r} is not an lro.Client or an lro.aio.Client")
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
        retention=args.retention,
        purge_interval=args.purge_interval,
    )
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    summary_every = args.summary_every if is_terminal(sys.stdout) else 0.0
    if isinstance(client, AsyncClient):
        asyncio.run(_work_async(client, settings, stop, summary_every))
        return 0
    worker = client.start_worker(settings)
    _work_until(client, worker, stop, summary_every)
    client.close()
    _stopped(worker, summary_every)
    return 0


async def _work_async(
    client: AsyncClient, settings: WorkerSettings, stop: threading.Event, summary_every: float
) -> None:
    """Run the worker of an ``lro.aio.Client``: its handlers run on this loop."""
    await client.open()
    worker = client.start_worker(settings)
    await asyncio.to_thread(_work_until, client, worker, stop, summary_every)
    await client.close()
    _stopped(worker, summary_every)


def _work_until(
    client: Client | AsyncClient, worker: Worker, stop: threading.Event, summary_every: float
) -> None:
    """Announce the worker, then wait for ``stop``, with a summary line every
    ``summary_every`` seconds (0: none)."""
    handlers = ", ".join(client.registry.handler_names()) or "none"
    print(f"lro worker {worker.owner} on {client.store!r}; handlers: {handlers}", flush=True)
    while not stop.wait(summary_every or None):
        print(f"lro worker: {worker.totals().line()}", flush=True)


def _stopped(worker: Worker, summary_every: float) -> None:
    if summary_every:
        print(f"lro worker: stopped; {worker.totals().line()}", flush=True)
