"""What the SQL store needs of a database, and the part every SQL connector shares.

A connector runs the backend's named queries (``sql/<backend>/queries.sql`` and
``wakeups.sql``, the same names on every backend) with named parameters, in a pooled
connection or in one transaction, and feeds other processes' changes to a hub. Every
driver error leaves it as an ``lro.Error``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from lro._core.errors import Error
from lro._core.filters import SqlDialect
from lro._store.mappings import ColumnRow
from lro._store.notify import ChangeHub
from lro._store.queries import load_queries

FILTER_SLOT = "/*filter*/"
QUERY_FILES = ("queries.sql", "wakeups.sql", "retention.sql")


class Queries(Protocol):
    """Runs named queries; parameters by name only."""

    def execute(self, query: str, /, **params: Any) -> int:
        """Run ``query``; the number of rows it changed."""
        ...

    def one(self, query: str, /, **params: Any) -> ColumnRow | None:
        """The first row of ``query``, or None."""
        ...

    def all(self, query: str, /, *, filter_sql: str = "", **params: Any) -> list[ColumnRow]:
        """Every row of ``query``; ``filter_sql`` fills its ``/*filter*/`` slot."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between backends beyond their query files.

    Args:
        filters: how compiled list filters spell parameters and columns.
        names: a list of names as one query parameter (JSON text, an array).
        names_from: the inverse, for the ``children`` column of a wake-up.
        database_clock: wake-up times come from the database's clock (query
            ``now_us``), so that workers on several machines agree; else from this
            process's clock.
    """

    filters: SqlDialect
    names: Callable[[Sequence[str]], object]
    names_from: Callable[[Any], Iterable[str]]
    database_clock: bool


class Connector(Queries, Protocol):
    """A database for ``SqlStore``: queries, transactions, a change feed."""

    dialect: Dialect

    def transaction(self) -> contextlib.AbstractContextManager[Queries]:
        """A write transaction: its queries run on one connection and are committed
        together, or rolled back when the block raises."""
        ...

    def listen(self, hub: ChangeHub) -> None:
        """Publish into ``hub`` the changes that other processes commit, until closed."""
        ...

    def close(self) -> None:
        """Stop listening and close every connection; later calls raise Unavailable."""
        ...


class DriverCursor(Protocol):
    """The part of a DB-API cursor the connectors use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


class DriverConnection(Protocol):
    """The part of a driver's connection the connectors use (sqlite3, psycopg)."""

    def execute(self, query: Any, params: Any, /) -> Any: ...


ConnectionT = TypeVar("ConnectionT", bound=DriverConnection)
T = TypeVar("T")
_ROWCOUNT: Callable[[DriverCursor], int] = operator.attrgetter("rowcount")
_ONE: Callable[[DriverCursor], Any] = operator.methodcaller("fetchone")
_ALL: Callable[[DriverCursor], Any] = operator.methodcaller("fetchall")


def query_texts(backend: str) -> dict[str, str]:
    """Every named query of ``backend``, from the same files on every backend."""
    texts: dict[str, str] = {}
    for file_name in QUERY_FILES:
        texts.update(load_queries(backend, file_name))
    return texts


class NamedQueries:
    """``execute``, ``one`` and ``all`` over one method that runs a query's text."""

    _sql: Mapping[str, str]

    def _run(
        self, text: str, query: str, params: Mapping[str, Any], fetch: Callable[[Any], T]
    ) -> T:
        raise NotImplementedError

    def execute(self, query: str, /, **params: Any) -> int:
        """Run ``query``; the number of rows it changed."""
        return self._run(self._sql[query], query, params, _ROWCOUNT)

    def one(self, query: str, /, **params: Any) -> ColumnRow | None:
        """The first row of ``query``, or None."""
        row: ColumnRow | None = self._run(self._sql[query], query, params, _ONE)
        return row

    def all(self, query: str, /, *, filter_sql: str = "", **params: Any) -> list[ColumnRow]:
        """Every row of ``query``; ``filter_sql`` fills its ``/*filter*/`` slot."""
        text = self._sql[query]
        if filter_sql:
            text = text.replace(FILTER_SLOT, filter_sql)
        rows: list[ColumnRow] = self._run(text, query, params, _ALL)
        return rows


class DriverQueries(NamedQueries, Generic[ConnectionT]):
    """Named queries run on pooled driver connections, driver errors translated.

    A subclass says how to borrow and return a connection, how a transaction begins
    and ends, and which ``lro.Error`` a driver error is.
    """

    driver_error: type[Exception]

    def _checkout(self) -> ConnectionT:
        raise NotImplementedError

    def _checkin(self, connection: ConnectionT) -> None:
        raise NotImplementedError

    def _translate(self, exc: Exception, action: str) -> Error:
        raise NotImplementedError

    def _begin(self, connection: ConnectionT) -> contextlib.AbstractContextManager[object]:
        raise NotImplementedError

    def _run(
        self, text: str, query: str, params: Mapping[str, Any], fetch: Callable[[Any], T]
    ) -> T:
        connection = self._checkout()
        try:
            return fetch(connection.execute(text, params))
        except self.driver_error as exc:
            raise self._translate(exc, query) from exc
        finally:
            self._checkin(connection)

    @contextlib.contextmanager
    def connection(self) -> Iterator[ConnectionT]:
        """A pooled driver connection (for tools and tests; the store runs named queries)."""
        connection = self._checkout()
        try:
            yield connection
        finally:
            self._checkin(connection)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Queries]:
        """A write transaction on one pooled connection."""
        connection = self._checkout()
        try:
            with self._translated("transaction"), self._begin(connection):
                yield InTransaction(self, connection)
        finally:
            self._checkin(connection)

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Driver errors raised in the block become ``lro.Error``."""
        try:
            yield
        except self.driver_error as exc:
            raise self._translate(exc, action) from exc


class InTransaction(NamedQueries, Generic[ConnectionT]):
    """The queries of one transaction: on its connection, errors translated."""

    def __init__(self, owner: DriverQueries[ConnectionT], connection: ConnectionT) -> None:
        self._sql = owner._sql
        self._owner = owner
        self._connection = connection

    def _run(
        self, text: str, query: str, params: Mapping[str, Any], fetch: Callable[[Any], T]
    ) -> T:
        try:
            return fetch(self._connection.execute(text, params))
        except self._owner.driver_error as exc:
            raise self._owner._translate(exc, query) from exc
