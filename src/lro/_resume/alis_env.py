"""The Cloud Tasks set-up of an ALIS-managed service, read from its environment.

It follows the Go package's ``lro/v2`` ``NewFromEnv``: the same variables, the same
names derived from them, and the same table of Cloud Tasks locations (``tasks.go``).
Keep ``SUPPORTED_LOCATIONS`` and ``FALLBACK_LOCATIONS`` equal to Go's, so that Go and
Python services of one deployment use the same queue.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from lro._core.errors import InvalidArgument

PROJECT_ENV = "ALIS_OS_PROJECT"
REGION_ENV = "ALIS_REGION"
PROJECT_NUMBER_ENV = "ALIS_PROJECT_NR"

# Regions where Cloud Tasks runs, as Go v2 lists them.
SUPPORTED_LOCATIONS = frozenset(
    {
        "northamerica-northeast1",
        "southamerica-east1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
        "europe-central2",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west6",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
    }
)

# Regions without Cloud Tasks, and where their queues live instead.
FALLBACK_LOCATIONS = {
    "africa-south1": "europe-west1",  # the closest supported European region
}


def cloud_tasks_location(region: str) -> str:
    """The Cloud Tasks location for a service in ``region``: itself, or its fallback.

    Raises:
        InvalidArgument: ``region`` has no Cloud Tasks and no fallback.
    """
    if region in SUPPORTED_LOCATIONS:
        return region
    if region in FALLBACK_LOCATIONS:
        return FALLBACK_LOCATIONS[region]
    raise InvalidArgument(
        f"{REGION_ENV} {region!r} is not a supported Cloud Tasks location and has no "
        f"fallback; supported locations: {', '.join(sorted(SUPPORTED_LOCATIONS))}"
    )


def queue_in_cloud_tasks_location(queue: str) -> str:
    """``projects/P/locations/L/queues/Q`` with ``L`` moved to its fallback, if it has one."""
    parts = queue.split("/")
    parts[3] = FALLBACK_LOCATIONS.get(parts[3], parts[3])
    return "/".join(parts)


@dataclasses.dataclass(frozen=True)
class TasksSettings:
    """What a Cloud Tasks resumer needs: its queue, the token's account, the resume host."""

    queue: str
    service_account_email: str
    resume_host: str


def tasks_settings(
    neuron: str, *, host: str | None = None, environ: Mapping[str, str] | None = None
) -> TasksSettings:
    """The settings Go v2's ``NewFromEnv(ctx, neuron, WithHost(host))`` derives.

    Queue ``projects/{ALIS_OS_PROJECT}/locations/{location}/queues/{neuron}-operations``
    (location: ``ALIS_REGION`` or its fallback), service account
    ``alis-build@{ALIS_OS_PROJECT}.iam.gserviceaccount.com``, and resume host ``host``
    or ``https://{neuron}-{ALIS_PROJECT_NR}.{ALIS_REGION}.run.app``.

    Raises:
        InvalidArgument: ``neuron`` is empty, a variable is not set, or the region has
            no Cloud Tasks location.
    """
    if not neuron:
        raise InvalidArgument("a neuron (the service's name) is required")
    environ = os.environ if environ is None else environ
    project = _required(environ, PROJECT_ENV)
    region = _required(environ, REGION_ENV)
    location = cloud_tasks_location(region)
    if host is None:
        host = f"https://{neuron}-{_required(environ, PROJECT_NUMBER_ENV)}.{region}.run.app"
    return TasksSettings(
        queue=f"projects/{project}/locations/{location}/queues/{neuron}-operations",
        service_account_email=f"alis-build@{project}.iam.gserviceaccount.com",
        resume_host=host,
    )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise InvalidArgument(f"{name} is not set")
    return value
