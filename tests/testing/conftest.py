"""Stores on every backend that keeps wake-ups, for the clock and runner tests: the
durable tests' ``store_url`` fixture."""

from __future__ import annotations

from tests.durable.conftest import store_url

__all__ = ["store_url"]
