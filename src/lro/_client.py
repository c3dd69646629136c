"""``lro.Client``: the entry point, bound to one store."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro import _telemetry as telemetry
from lro._calls import current_call
from lro._client_base import (
    ClientBase,
    chosen_of,
    continued_operation,
    name_of,
    starting_of,
)
from lro._core.codecs import codec_for
from lro._core.constants import OPERATION_ID_HEADER
from lro._core.durations import Duration
from lro._drive import drive
from lro._operation import Operation, run_with
from lro._runtime import Resumable
from lro._unmarshal import unmarshal_operation

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])

__all__ = ["OPERATION_ID_HEADER", "Client"]


class Client(ClientBase):
    """Creates, reads and waits for operations kept in one store.

    Constructing a client does no I/O: the store opens (and applies its migrations) on
    first use, or in ``open()`` or ``with``.

    Args:
        store: a URL (``sqlite:///lro.db``, ``postgresql://user@host/db``,
            ``spanner:///projects/P/instances/I/databases/D``), a ``lro.SpannerConfig``,
            or a store object; None reads ``$LRO_DATABASE_URL``, else uses the SQLite
            file ``lro.db``.
        project: Google Cloud project; default ``$ALIS_OS_PROJECT``.
        location: Google Cloud region; default ``$ALIS_REGION``.
        resume_host: where resumed calls go; default the internal gateway named by
            ``$ALIS_RUN_HASH``, as in the Go package.
        worker: whether the client starts an embedded worker the first time it
            schedules a durable wait (``client.start`` or ``op.wait(resume_at=...)``);
            ``WorkerSettings`` to start it with those settings. ``start_worker`` starts
            one explicitly. ``close`` stops it gracefully.
        resumer: who resumes durable waits besides the embedded worker. ``"auto"``:
            in production (``$K_SERVICE`` set) with a project, a location and a resume
            host, Cloud Workflows resumes gRPC methods, as the Go package does;
            otherwise the embedded worker does everything. ``"workflows"`` asks for
            Workflows always, ``"embedded"`` never; or pass a resumer object such as
            ``lro.TasksResumer`` (registered handlers, after a sleep) or
            ``lro.WorkflowsResumer``. Waits a cloud resumer cannot serve stay with the
            embedded worker.
    """

    def open(self) -> Client:
        """Open the store now (applying its migrations); returns the client."""
        self.runtime.open()
        return self

    def get_operation(
        self, name_or_request: str | operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        """The operation as stored; NotFound or InvalidOperationName otherwise."""
        return self._get_now(name_of(name_or_request))

    def unmarshal_operation(
        self, name: str, response: Message | None = None, metadata: Message | None = None
    ) -> None:
        """Read operation ``name`` and unpack its response and metadata into the messages."""
        unmarshal_operation(self.get_operation(name), response, metadata)

    def unmarshal_metadata(self, name: str, metadata: Message) -> None:
        """Fill ``metadata`` from the stored metadata of operation ``name``, running or
        done, as Go v2's ``UnmarshalMetadata`` does.

        Raises:
            FailedPrecondition: the operation has no metadata yet.
            InvalidArgument: the stored metadata is of another type than ``metadata``.
        """
        self._metadata_now(name, metadata)

    def wait_operation(
        self, name: str, timeout: Duration | None = None
    ) -> operations_pb2.Operation:
        """The operation once done, or its latest state when ``timeout`` runs out.

        Woken by change notifications; ``timeout`` None waits without limit.
        """
        return drive(self._latest_steps(name, timeout), self.runtime.clock)

    def list_operations(
        self,
        filter: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        name: str = "operations",
    ) -> tuple[list[operations_pb2.Operation], str]:
        """One page of operations, and the token of the next page ("" after the last).

        Args:
            filter: AIP-160 over ``done``, ``error.code``, ``metadata.@type``,
                ``create_time``, ``update_time`` and ``name``; "" for all.
            page_size: 0 for the default (50); above 1000 reads 1000.
            page_token: "" for the first page, else a ``next_page_token`` of the same
                name and filter.
            name: the collection: ``operations``, or a parent such as
                ``projects/p/locations/l`` (or ``.../operations``).

        Raises:
            InvalidArgument: a bad name, filter or page size. InvalidPageToken: a
                forged or edited token, or one from another name or filter.
        """
        return self._list_now(filter, page_size, page_token, name)

    def cancel_operation(self, name: str) -> operations_pb2.Operation:
        """Cancel: a running operation ends with CANCELLED; a done one stays as it is."""
        return self._cancel_now(name)

    def delete_operation(self, name: str) -> None:
        """Delete an operation (it is not cancelled)."""
        self._delete_now(name)

    def purge(
        self, *, older_than: Duration, filter: str = "", collection: str = "operations"
    ) -> int:
        """Delete the done operations not updated for ``older_than`` (AIP-151 expiry).

        It works in batches of a few hundred, each its own short transaction, so that
        other writers keep going; it never deletes a running operation, nor one written
        since the purge read it, nor a done child that a pending durable wait still
        waits for. Their wake-ups go with them. The time is the client's clock.

        Args:
            older_than: seconds, or a ``datetime.timedelta``.
            filter: AIP-160, as in ``list_operations``; "" for all.
            collection: ``operations``, or a parent such as ``projects/p`` (or
                ``projects/p/operations``).

        Returns:
            How many operations were deleted.

        Raises:
            InvalidArgument: a bad duration, filter or collection. FailedPrecondition: a
                store that cannot purge (a Go package's Spanner table: see
                docs/reference/retention.md).
        """
        return self._purge_now(older_than, filter, collection)

    @overload
    def new_operation(
        self,
        *,
        state_type: type[T],
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[T]], object] | None = None,
        metadata: Message | None = None,
    ) -> Operation[T]: ...

    @overload
    def new_operation(
        self,
        *,
        state_type: None = None,
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[Any]], object] | None = None,
        metadata: Message | None = None,
    ) -> Operation[Any]: ...

    def new_operation(
        self,
        *,
        state_type: type[Any] | None = None,
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
        id: str | None = None,
        request_id: str | None = None,
        resume_method: str | None = None,
        callback: Callable[[Operation[Any]], object] | None = None,
        metadata: Message | None = None,
    ) -> Operation[Any]:
        """Start a new operation, or continue an existing one.

        A new one is created as ``operations/{uuid4}`` or ``operations/{id}`` (under
        ``parent`` if given) unless ``existing`` names one, or the gRPC ``context`` of
        the call carries the ``x-alis-operation-id`` header (then its saved state and
        resume point come back; ``id`` and ``request_id`` are then ignored).

        Args:
            state_type: type of the private state: a dataclass, pydantic model,
                protobuf message, dict, list, or a scalar type. None keeps any JSON value.
            context: the ``grpc.ServicerContext`` of the call being served; not
                needed under ``lro.serving.OperationInterceptor``, which passes the
                method (the default ``resume_method``) and the header.
            existing: name of an operation to continue.
            parent: resource name to create the operation under.
            id: the new operation's id, so that it is named ``operations/{id}`` (or
                ``{parent}/operations/{id}``): 1 to 63 lowercase letters, digits and
                hyphens, starting with a letter and ending with a letter or digit,
                not in the form of a UUID (AIP-122); else InvalidArgument.
                AlreadyExists if the name is taken.
            request_id: an AIP-155 request id: if an operation was created with it in
                the same collection before, that operation is returned as it is.
                None takes the ``request_id`` field of the request being served under
                ``lro.serving.OperationInterceptor``, if it has one.
            resume_method: full gRPC method that resumes the operation.
            callback: called to resume the operation in development mode.
            metadata: initial metadata of a new operation.
        """
        codec_for(state_type)  # refuses an unsupported state type before any write
        chosen = chosen_of(id, request_id, existing, parent)
        continued = continued_operation(existing, context, resume_method)
        record = self._new_record_now(continued, parent, metadata, chosen)
        op = Operation(self.runtime, record, state_type, callback=callback)
        telemetry.resumed_in_call(current_call.get(), record)
        return op

    def resumable(self, name: str, *, state_type: type[Any] | None = None) -> Callable[[F], F]:
        """Register ``fn(op)`` as the handler called ``name``; use as a decorator.

        ``client.start(name)`` runs it in a worker; after ``op.wait(..., resume_at=p)``
        a worker runs it again with ``op.resume_point == p``. Workers claim only the
        handlers registered in their process.
        """
        return self._register(
            name,
            lambda function: Resumable(
                run_with(self.runtime, function, state_type, name), state_type
            ),
        )

    def start(
        self,
        name: str,
        state: Any = None,
        metadata: Message | None = None,
        *,
        registered_elsewhere: bool = False,
        request_id: str | None = None,
        delay: Duration = 0,
    ) -> Operation[Any]:
        """Create an operation and have a worker run the handler called ``name`` on it.

        The operation and its wake-up are written in one transaction, so the handler
        runs (at least once) even if this process dies now. With a cloud resumer that
        runs handlers (``lro.TasksResumer``), a task runs it instead; if the task
        cannot be created, the operation ends with that error, which is raised.

        ``request_id`` (AIP-155): if an operation was started with it before, that
        operation is returned and the handler is not run again. None takes the
        ``request_id`` field of the request being served under
        ``lro.serving.OperationInterceptor``, if it has one. ``delay`` (seconds or a
        timedelta): the handler's first run is due that long after now.

        Raises:
            FailedPrecondition: no handler ``name`` is registered on this client, and
                ``registered_elsewhere`` is False. Pass True when the handler is
                registered only in another process that runs a worker.
        """
        state_type = self._start_type(name, state, registered_elsewhere)
        starting = starting_of(request_id, delay)
        record = self._start_now(name, state, state_type, metadata, starting)
        return Operation(self.runtime, record, state_type, handler_name=name)

    def close(self, grace: float | None = None) -> None:
        """Stop the worker gracefully (see ``Worker.stop``), then close the store."""
        self._close_now(grace)

    def __enter__(self) -> Client:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
