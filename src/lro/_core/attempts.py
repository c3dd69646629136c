"""One policy for failed handler runs: how many, how far apart, and which errors pass.

The embedded worker and the resume endpoint both count a failed run on the operation
(``attempts``, ``last_error``) and end the operation with the error after the last
allowed attempt.
"""

from __future__ import annotations

import dataclasses

import google.rpc.code_pb2 as code_pb2
import google.rpc.status_pb2 as status_pb2

from lro._core import backoff
from lro._core.errors import InvalidArgument

# Codes of a failure that may pass by itself: the call is worth making again.
TRANSIENT_CODES = frozenset(
    {code_pb2.UNAVAILABLE, code_pb2.DEADLINE_EXCEEDED, code_pb2.RESOURCE_EXHAUSTED}
)
MAX_ATTEMPTS = 5
RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptPolicy:
    """How often a failed handler run is tried again, and how long after.

    Args:
        max_attempts: runs before the operation ends with the handler's error.
        retry_delay: pause after the first failed run; doubles up to max_retry_delay.
        max_retry_delay: the longest pause between runs.
    """

    max_attempts: int = MAX_ATTEMPTS
    retry_delay: float = RETRY_DELAY
    max_retry_delay: float = MAX_RETRY_DELAY

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgument("max_attempts must be at least 1")

    def is_last(self, attempt: int, *, retry_forever: bool = False) -> bool:
        """Whether failed run number ``attempt`` (from 1) ends the operation.

        ``retry_forever``: the failure says nothing about the handler (its host is
        unreachable), so it never ends the operation.
        """
        return attempt >= self.max_attempts and not retry_forever

    def delay(self, attempt: int) -> float:
        """Seconds before the run after failed run number ``attempt``, with jitter."""
        return backoff.retry_delay(attempt, self.retry_delay, self.max_retry_delay)


def is_transient(status: status_pb2.Status) -> bool:
    """Whether a call that failed with ``status`` is worth making again."""
    return status.code in TRANSIENT_CODES
