"""A thread that turns PostgreSQL notifications into wake-ups on a ChangeHub.

It holds one connection that LISTENs on the store's channel. When that connection is
lost it reconnects with backoff, and then tells every waiter to read again
(``publish_all``), since changes made meanwhile sent notifications nobody heard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable

import psycopg
from psycopg import pq

from lro._store.notify import ChangeHub

logger = logging.getLogger("lro.store")
FIRST_RECONNECT_DELAY = 0.05
MAX_RECONNECT_DELAY = 0.5

Connect = Callable[[], psycopg.Connection[object]]


class ChangeListener:
    """Publishes into ``hub`` the names that other stores announce on ``channel``.

    Args:
        connection: an autocommit connection already listening on ``channel``.
        connect: opens a new such connection (used after the old one is lost).
        channel: the notification channel.
        origin: this store's origin; its own notifications are skipped, as the store
            publishes its changes itself.
        hub: where the names go.
    """

    def __init__(
        self,
        connection: psycopg.Connection[object],
        connect: Connect,
        *,
        channel: str,
        origin: str,
        hub: ChangeHub,
    ) -> None:
        self.channel = channel.encode()
        self.origin = origin
        self.outage: str | None = None
        self._connection: psycopg.Connection[object] | None = connection
        self._connect = connect
        self._hub = hub
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="lro-postgres-listener", daemon=True)
        self._thread.start()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, if connected."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None else None

    def close(self) -> None:
        """Stop the thread and close the connection."""
        self._stopping.set()
        os.write(self._wake_write, b"x")
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        while not self._stopping.is_set():
            connection = self._connection or self._reconnect()
            if connection is None:
                break
            try:
                self._receive(connection)
            except psycopg.Error as exc:
                self.outage = " ".join(str(exc).split()) or type(exc).__name__
                self._connection = None
                logger.warning(
                    "PostgreSQL store: lost the connection that listens for changes "
                    "(%s); reconnecting",
                    self.outage,
                )
            finally:
                if self._connection is None or self._stopping.is_set():
                    connection.close()

    def _receive(self, connection: psycopg.Connection[object]) -> None:
        """Deliver notifications until told to stop; raises when the connection is lost."""
        pgconn = connection.pgconn
        poller = select.poll()  # not select.select: file numbers may pass 1024
        poller.register(connection.fileno(), select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        while not self._stopping.is_set():
            ready = {fd for fd, _event in poller.poll()}
            if self._wake_read in ready:
                return
            pgconn.consume_input()
            while (notification := pgconn.notifies()) is not None:
                self._deliver(notification)
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the listening connection was lost")

    def _deliver(self, notification: pq.PGnotify) -> None:
        if notification.relname != self.channel:
            return
        origin, _, name = notification.extra.decode().partition(" ")
        if origin != self.origin and name:
            self._hub.publish(name)

    def _reconnect(self) -> psycopg.Connection[object] | None:
        """A new listening connection, after backoff; None if the listener stops first."""
        delay = FIRST_RECONNECT_DELAY
        while not self._stopping.is_set():
            try:
                connection = self._connect()
            except psycopg.Error as exc:
                self.outage = " ".join(str(exc).split()) or type(exc).__name__
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)
                continue
            if self._stopping.is_set():
                with contextlib.suppress(psycopg.Error):
                    connection.close()
                return None
            self._connection = connection
            self.outage = None
            logger.info("PostgreSQL store: listening again; every waiter reads again")
            self._hub.publish_all()
            return connection
        return None
