"""The Spanner poller publishes a newly watched operation at its first look."""

from __future__ import annotations

from collections.abc import Collection

from lro._store.notify import ChangeHub
from lro._store.spanner_watch import VersionPoller


def test_a_newly_watched_operation_is_published_at_the_first_look() -> None:
    # A waiter reads version 1, then the operation finishes (version 2) before the
    # poller's first look: that look must wake the waiter, or it sleeps to its timeout.
    versions = {"operations/a": 2}
    hub, published = ChangeHub(), list[str]()

    def read_versions(names: Collection[str]) -> dict[str, int]:
        return {name: versions[name] for name in names if name in versions}

    poller = VersionPoller(read_versions, hub, interval=3600)  # ticks by hand only
    try:
        with hub.subscribe(["operations/a"], published.append):
            poller.publish_changes(["operations/a"])
            assert published == ["operations/a"]
            poller.publish_changes(["operations/a"])  # nothing moved since
            assert published == ["operations/a"]
            versions["operations/a"] = 3
            poller.publish_changes(["operations/a"])
            assert published == ["operations/a", "operations/a"]
    finally:
        poller.close()
