"""``--log-level``: where the records of lro's named loggers go in a command."""

from __future__ import annotations

import argparse
import logging

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_log_level(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Add ``--log-level`` to ``parser``; a default of None prints no records."""
    shown = "none: an error is one line" if default is None else default
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=default,
        help=f"the lowest level of lro's log records printed on stderr (default {shown})",
    )


def configure_logging(level: str | None) -> None:
    """Print log records on stderr: lro's loggers (``lro.worker``, ``lro.store``,
    ``lro.resume``, ``lro.serving``) from ``level``, other libraries' from WARNING.

    With no level, lro's records are printed nowhere, not even by ``logging``'s
    last resort: a command's error line says what failed, and its reference (``ref
    1a2b3c4d``) finds the details in the log of a run with ``--log-level``."""
    lro_logger = logging.getLogger("lro")
    if level is None:
        lro_logger.addHandler(logging.NullHandler())
        return
    lro_level = logging.getLevelName(level)
    logging.basicConfig(format=FORMAT, level=max(lro_level, logging.WARNING))
    lro_logger.setLevel(lro_level)
