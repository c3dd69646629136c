"""Names and numbers that several layers share, kept once."""

from __future__ import annotations

# gRPC metadata of a resumed call, as the Go package sends it.
OPERATION_ID_HEADER = "x-alis-operation-id"
WAIT_TIMED_OUT_HEADER = "x-alis-wait-timed-out"

# Environment variables read as the Go package reads them.
DEV_MODE_ENV = "K_SERVICE"  # set on Cloud Run: production; unset: development mode
PROJECT_ENV = "ALIS_OS_PROJECT"
LOCATION_ENV = "ALIS_REGION"
RUN_HASH_ENV = "ALIS_RUN_HASH"

# Waiting.
FIRST_POLL_DELAY = 0.05  # the first pause between polls of another service, seconds
OUTAGE_RECHECK = 0.5  # how often a wait reads again while the store is unavailable
WAIT_TIMEOUT = 420.0  # op.wait's default timeout (7 minutes, as in Go)
POLL_FREQUENCY = 3.0  # op.wait's default longest gap between reads or polls
WAIT_OPERATION_TIMEOUT = 77.0  # lro.wait_operation's default timeout, as in Go
WAIT_OPERATION_POLL = 0.777  # lro.wait_operation's longest gap between polls, as in Go
