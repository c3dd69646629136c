"""``lro.Client``: the entry point, bound to one store."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro import _telemetry as telemetry
from lro._calls import current_call, header_says_timed_out
from lro._core import transitions
from lro._core.codecs import codec_for
from lro._core.durations import Duration, seconds
from lro._core.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from lro._core.filters import parse_filter
from lro._core.listing import (
    ListQuery,
    PageCursor,
    collection_to_list,
    query_fingerprint,
    sign_page_token,
    verify_page_token,
)
from lro._core.listing import page_size as normalized_page_size
from lro._core.names import name_from_header, new_name, validate_name
from lro._operation import DEV_MODE_ENV, Operation, no_default_state
from lro._resume.binding import start_with_task
from lro._resume.cloud import CloudResumer
from lro._resume.plan import wait_plan, wakeup_store
from lro._resume.registry import Resumable
from lro._resume.worker import Worker, WorkerSettings
from lro._resume.workflows import WorkflowsResumer
from lro._store.base import OperationRecord, Store, Wakeup, update_record
from lro._store.spanner_config import SpannerConfig
from lro._store.urls import default_url, open_store
from lro._unmarshal import unmarshal_operation
from lro._wait import latest_in_store

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])
OPERATION_ID_HEADER = "x-alis-operation-id"
PROJECT_ENV = "ALIS_OS_PROJECT"
LOCATION_ENV = "ALIS_REGION"
RUN_HASH_ENV = "ALIS_RUN_HASH"


class Client:
    """Creates, reads and waits for operations kept in one store.

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

    def __init__(
        self,
        store: str | SpannerConfig | Store | None = None,
        *,
        project: str | None = None,
        location: str | None = None,
        resume_host: str | None = None,
        worker: bool | WorkerSettings = True,
        resumer: str | CloudResumer = "auto",
    ) -> None:
        self.store: Store = (
            open_store(store or default_url())
            if store is None or isinstance(store, str | SpannerConfig)
            else store
        )
        self.project = project or os.environ.get(PROJECT_ENV, "")
        self.location = location or os.environ.get(LOCATION_ENV, "")
        run_hash = os.environ.get(RUN_HASH_ENV, "")
        self.resume_host = resume_host or (
            f"https://internal-gateway-{run_hash}.run.app" if run_hash else ""
        )
        self.cloud_resumer = choose_resumer(resumer, self.project, self.location, self.resume_host)
        self.instance_id = uuid.uuid4().hex
        self._handlers: dict[str, Resumable] = {}
        self._callbacks: dict[str, Resumable] = {}
        self._worker_setting = worker
        self._worker: Worker | None = None
        self._worker_lock = threading.Lock()

    def get_operation(
        self, name_or_request: str | operations_pb2.GetOperationRequest
    ) -> operations_pb2.Operation:
        """The operation as stored; NotFound or InvalidOperationName otherwise."""
        name = (
            name_or_request.name
            if isinstance(name_or_request, operations_pb2.GetOperationRequest)
            else name_or_request
        )
        return self.store.get(validate_name(name)).operation

    def unmarshal_operation(
        self, name: str, response: Message | None = None, metadata: Message | None = None
    ) -> None:
        """Read operation ``name`` and unpack its response and metadata into the messages."""
        unmarshal_operation(self.get_operation(name), response, metadata)

    def wait_operation(
        self, name: str, timeout: Duration | None = None
    ) -> operations_pb2.Operation:
        """The operation once done, or its latest state when ``timeout`` runs out.

        Woken by change notifications; ``timeout`` None waits without limit.
        """
        limit = float("inf") if timeout is None else seconds(timeout, "timeout")
        return latest_in_store(self.store, validate_name(name), timeout=limit)

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
        collection = collection_to_list(name)
        expression = parse_filter(filter)
        limit = normalized_page_size(page_size)
        fingerprint = query_fingerprint(collection, filter)
        key = self.store.page_token_key()
        after = verify_page_token(page_token, fingerprint, key) if page_token else None
        records = self.store.list_page(ListQuery(collection, expression, after, limit + 1))
        page = records[:limit]
        next_token = ""
        if len(records) > limit:
            last = page[-1]
            next_token = sign_page_token(
                PageCursor(last.create_time_us, last.name), fingerprint, key
            )
        return [record.operation for record in page], next_token

    def cancel_operation(self, name: str) -> operations_pb2.Operation:
        """Cancel: a running operation ends with CANCELLED; a done one stays as it is."""
        record = self.store.get(validate_name(name))
        updated = update_record(
            self.store, record, lambda r: r.replace(operation=transitions.cancel(r.operation))
        )
        return updated.operation

    def delete_operation(self, name: str) -> None:
        """Delete an operation (it is not cancelled)."""
        self.store.delete(validate_name(name))

    @overload
    def new_operation(
        self,
        *,
        state_type: type[T],
        context: Any = None,
        existing: str | None = None,
        parent: str = "",
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
        resume_method: str | None = None,
        callback: Callable[[Operation[Any]], object] | None = None,
        metadata: Message | None = None,
    ) -> Operation[Any]:
        """Start a new operation, or continue an existing one.

        A new one is created as ``operations/{uuid4}`` (under ``parent`` if given)
        unless ``existing`` names one, or the gRPC ``context`` of the call carries the
        ``x-alis-operation-id`` header (then its saved state and resume point come back).

        Args:
            state_type: type of the private state: a dataclass, pydantic model,
                protobuf message, dict, list, or a scalar type. None keeps any JSON value.
            context: the ``grpc.ServicerContext`` of the call being served; not
                needed under ``lro.serving.OperationInterceptor``, which passes the
                method (the default ``resume_method``) and the header.
            existing: name of an operation to continue.
            parent: resource name to create the operation under.
            resume_method: full gRPC method that resumes the operation.
            callback: called to resume the operation in development mode.
            metadata: initial metadata of a new operation.
        """
        codec_for(state_type)  # refuses an unsupported state type before any write
        name, resume_method, timed_out = _continued_operation(existing, context, resume_method)
        if name is not None:
            record = self.store.get(validate_name(name))
            if (resume_method and resume_method != record.resume_target) or timed_out:
                record = update_record(
                    self.store,
                    record,
                    lambda r: r.replace(
                        resume_target=resume_method or r.resume_target,
                        wait_timed_out=r.wait_timed_out or timed_out,
                    ),
                )
        else:
            operation = transitions.new_operation(new_name(parent), metadata)
            record = self.store.create(
                OperationRecord(
                    operation=operation,
                    resume_target=resume_method or "",
                    trace_context=telemetry.trace_context(),
                )
            )
            telemetry.operation_created()
        op = self._operation_for(record, state_type, callback=callback)
        telemetry.resumed_in_call(current_call.get(), record)
        return op

    def resumable(self, name: str, *, state_type: type[Any] | None = None) -> Callable[[F], F]:
        """Register ``fn(op)`` as the handler called ``name``; use as a decorator.

        ``client.start(name)`` runs it in a worker; after ``op.wait(..., resume_at=p)``
        a worker runs it again with ``op.resume_point == p``. Workers claim only the
        handlers registered in their process.
        """
        if not isinstance(name, str) or not name:
            raise InvalidArgument("a handler name must be a non-empty string")

        def register(function: F) -> F:
            if name in self._handlers:
                raise AlreadyExists(f"a handler called {name!r} is registered already")
            self._handlers[name] = Resumable(function, state_type)
            return function

        return register

    def start(
        self,
        name: str,
        state: Any = None,
        metadata: Message | None = None,
        *,
        registered_elsewhere: bool = False,
    ) -> Operation[Any]:
        """Create an operation and have a worker run the handler called ``name`` on it.

        The operation and its wake-up are written in one transaction, so the handler
        runs (at least once) even if this process dies now. With a cloud resumer that
        runs handlers (``lro.TasksResumer``), a task runs it instead; if the task
        cannot be created, the operation ends with that error, which is raised.

        Raises:
            FailedPrecondition: no handler ``name`` is registered on this client, and
                ``registered_elsewhere`` is False. Pass True when the handler is
                registered only in another process that runs a worker.
        """
        registered = self._handler_to_start(name, registered_elsewhere)
        state_type = registered.state_type if registered else None
        if state_type is None and state is not None and not isinstance(state, dict | list):
            state_type = type(state)
        codec = codec_for(state_type)
        encoded = codec.encode(state) if state is not None else None
        record = OperationRecord(
            operation=transitions.new_operation(new_name(), metadata),
            state=encoded,
            trace_context=telemetry.trace_context(),
        )
        cloud = self.cloud_resumer
        if cloud is not None and cloud.accepts("handler", ()):
            stored = start_with_task(self.store, cloud, record, name)
            telemetry.operation_created()
            return self._operation_for(stored, state_type, handler_name=name)
        plan = wait_plan(
            ("handler", name, "", ""),
            sleep=0,
            children=(),
            timeout=0,
            poll_frequency=0,
            child_endpoint="",
        )
        stored, wakeup = wakeup_store(self.store).schedule(record, None, plan)
        telemetry.operation_created()
        self._scheduled(wakeup)
        return self._operation_for(stored, state_type, handler_name=name)

    def _handler_to_start(self, name: str, registered_elsewhere: bool) -> Resumable | None:
        """The handler ``name`` registered here; None if it is registered elsewhere."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("a handler name must be a non-empty string")
        registered = self._handlers.get(name)
        if registered is None and not registered_elsewhere:
            raise FailedPrecondition(
                f"no handler called {name!r} is registered on this client: register it "
                f"with @client.resumable({name!r}), or pass registered_elsewhere=True "
                "when a worker of another process registers it"
            )
        return registered

    def start_worker(self, settings: WorkerSettings | None = None) -> Worker:
        """Start the embedded worker (threads in this process), or return the running one."""
        with self._worker_lock:
            if self._worker is None:
                if settings is None and isinstance(self._worker_setting, WorkerSettings):
                    settings = self._worker_setting
                self._worker = Worker(self, settings)
            return self._worker

    def _scheduled(self, wakeup: Wakeup) -> None:
        """A wake-up was written here: make sure a worker will see it in time."""
        worker = self._worker
        if worker is None and self._worker_setting is not False:
            worker = self.start_worker()
        if worker is not None:
            worker.hint(wakeup.due_time_us)
            if wakeup.ready_time_us < wakeup.due_time_us:  # children may finish first
                worker.hint(wakeup.ready_time_us)

    def _operation_for(
        self,
        record: OperationRecord,
        state_type: type[Any] | None,
        *,
        handler_name: str = "",
        callback: Callable[[Operation[Any]], object] | None = None,
    ) -> Operation[Any]:
        codec = codec_for(state_type)
        default_state = no_default_state(state_type) if state_type else (lambda: None)
        op = Operation(self, record, codec, default_state, callback)
        op._handler_name = handler_name
        op._state_type = state_type
        return op

    def close(self, grace: float | None = None) -> None:
        """Stop the worker gracefully (see ``Worker.stop``), then close the store."""
        with self._worker_lock:
            worker, self._worker = self._worker, None
            self._worker_setting = False
        if worker is not None:
            worker.stop(grace)
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.store!r})"


def choose_resumer(
    setting: str | CloudResumer, project: str, location: str, resume_host: str
) -> CloudResumer | None:
    """The cloud resumer that ``resumer=setting`` asks for (see ``Client``)."""
    if not isinstance(setting, str):
        return setting
    if setting not in ("auto", "workflows", "embedded"):
        raise InvalidArgument(
            f"resumer must be 'auto', 'workflows', 'embedded' or a resumer, got {setting!r}"
        )
    production = bool(os.environ.get(DEV_MODE_ENV))
    wanted = setting == "workflows" or (
        setting == "auto" and production and project and location and resume_host
    )
    if not wanted:
        return None
    return WorkflowsResumer(project, location, resume_host)


def _continued_operation(
    existing: str | None, context: Any, resume_method: str | None
) -> tuple[str | None, str | None, bool]:
    """The operation to continue, if any, the resume method, and whether a Workflows
    resume says the wait timed out; from the arguments of ``new_operation`` and the
    call that the serving interceptor recorded."""
    in_context = _name_in_context(context)
    timed_out = in_context is not None and header_says_timed_out(context.invocation_metadata())
    name = existing or in_context
    call = current_call.get()
    if call is not None:
        resumed, resumed_timed_out = call.take_operation_name()
        if name is None:
            name, timed_out = resumed, resumed_timed_out
        return name, resume_method or call.method, timed_out and existing is None
    return name, resume_method, timed_out and existing is None


def _name_in_context(context: Any) -> str | None:
    """The operation named by the call's ``x-alis-operation-id`` metadata, if any."""
    if context is None:
        return None
    for key, value in context.invocation_metadata() or ():
        if key.lower() == OPERATION_ID_HEADER and value:
            return name_from_header(value if isinstance(value, str) else value.decode())
    return None
