"""``--log-level``: where the records of lro's named loggers go in a command."""

from __future__ import annotations

import argparse
import logging

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    """Add ``--log-level`` to ``parser``."""
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=default,
        help=f"the lowest level of lro's log records printed on stderr (default {default})",
    )


def configure_logging(level: str) -> None:
    """Print log records on stderr: lro's loggers (``lro.worker``, ``lro.store``,
    ``lro.resume``, ``lro.serving``) from ``level``, other libraries' from WARNING."""
    lro_level = logging.getLevelName(level)
    logging.basicConfig(format=FORMAT, level=max(lro_level, logging.WARNING))
    logging.getLogger("lro").setLevel(lro_level)
