"""What ``lro.Client`` and ``lro.aio.Client`` share: settings, the runtime, the worker,
and the blocking procedures behind their methods.

Constructing a client does no I/O: the store opens (and migrates) on first use, or in
``open()``. A procedure here that blocks ends in ``_now``; the sync face calls it, the
asyncio face runs it in its thread pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro import _telemetry as telemetry
from lro._calls import current_call, header_says_timed_out
from lro._core import transitions, waiting
from lro._core.codecs import codec_for
from lro._core.constants import (
    DEV_MODE_ENV,
    LOCATION_ENV,
    OPERATION_ID_HEADER,
    PROJECT_ENV,
    RUN_HASH_ENV,
)
from lro._core.durations import Duration, seconds
from lro._core.errors import FailedPrecondition, InvalidArgument
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
from lro._core.names import (
    chosen_name,
    name_from_header,
    new_name,
    validate_name,
    validate_parent,
    validate_request_id,
    without_nul,
)
from lro._core.waiting import Call, Steps
from lro._operation_base import cancel_in_store
from lro._resume.binding import start_with_task
from lro._resume.plan import wait_plan, wakeup_store
from lro._resume.worker import Worker, WorkerSettings
from lro._resume.workflows import WorkflowsResumer
from lro._runtime import CloudResumer, Registry, Resumable, ResumeTarget, Runtime
from lro._store.base import (
    DuplicateRequest,
    OperationRecord,
    PurgeQuery,
    Store,
    Wakeup,
    update_record,
)
from lro._store.retention import purge
from lro._store.spanner_config import SpannerConfig
from lro._store.urls import default_url, open_store
from lro._unmarshal import unmarshal_metadata

F = TypeVar("F", bound=Callable[..., object])
StoreSpec = str | SpannerConfig | Store | None


class ClientBase:
    """Settings, runtime and worker of a client (see ``lro.Client`` for the arguments)."""

    def __init__(
        self,
        store: StoreSpec = None,
        *,
        project: str | None = None,
        location: str | None = None,
        resume_host: str | None = None,
        worker: bool | WorkerSettings = True,
        resumer: str | CloudResumer = "auto",
    ) -> None:
        self.project = project or os.environ.get(PROJECT_ENV, "")
        self.location = location or os.environ.get(LOCATION_ENV, "")
        run_hash = os.environ.get(RUN_HASH_ENV, "")
        self.resume_host = resume_host or (
            f"https://internal-gateway-{run_hash}.run.app" if run_hash else ""
        )
        self.cloud_resumer = choose_resumer(resumer, self.project, self.location, self.resume_host)
        self.runtime = Runtime(
            _store_opener(store),
            cloud_resumer=self.cloud_resumer,
            resume_host=self.resume_host,
            scheduled=self._scheduled,
        )
        self._worker_setting = worker
        self._worker: Worker | None = None
        self._worker_lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The client's store, opened (and migrated) on first use."""
        return self.runtime.store

    @property
    def instance_id(self) -> str:
        """This client's id: development callbacks are pinned to it."""
        return self.runtime.instance_id

    @property
    def registry(self) -> Registry:
        """The handlers registered on this client."""
        return self.runtime.registry

    def _register(self, name: str, resumable: Callable[[F], Resumable]) -> Callable[[F], F]:
        """A decorator that registers a function as the handler ``name``."""
        _check_handler_name(name)

        def register(function: F) -> F:
            self.runtime.registry.add_handler(name, resumable(function))
            return function

        return register

    def start_worker(self, settings: WorkerSettings | None = None) -> Worker:
        """Start the embedded worker (threads in this process), or return the running one."""
        with self._worker_lock:
            if self._worker is None:
                if settings is None and isinstance(self._worker_setting, WorkerSettings):
                    settings = self._worker_setting
                self._worker = Worker(self.runtime, settings)
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

    def _close_now(self, grace: float | None = None) -> None:
        """Stop the worker gracefully (see ``Worker.stop``), then close the store."""
        with self._worker_lock:
            worker, self._worker = self._worker, None
            self._worker_setting = False
        if worker is not None:
            worker.stop(grace)
        self.runtime.close()

    def _get_now(self, name: str) -> operations_pb2.Operation:
        """The operation ``name`` as stored (blocking)."""
        return self.store.get(without_nul(name)).operation

    def _cancel_now(self, name: str) -> operations_pb2.Operation:
        """Cancel ``name`` (blocking); see ``cancel_operation``."""
        return cancel_in_store(self.store, name)

    def _delete_now(self, name: str) -> None:
        """Delete ``name`` (blocking)."""
        self.store.delete(validate_name(name))

    def _purge_now(
        self, older_than: Duration, filter: str, collection: str, dry_run: bool = False
    ) -> int:
        """Delete the done operations of ``collection`` not updated for ``older_than``
        that match ``filter``, in batches (blocking); how many went (see ``purge``)."""
        query = purge_query(self.runtime.clock.now_us(), older_than, filter, collection)
        return purge(self.store, query, dry_run=dry_run)

    def _latest_steps(
        self, name: str, timeout: Duration | None, recheck_every: float = float("inf")
    ) -> Steps[operations_pb2.Operation]:
        """``wait_operation``, as steps: the operation once done, or at the timeout;
        read again every ``recheck_every`` seconds besides the notifications."""
        limit = wait_limit(timeout)
        store = yield Call(self.runtime.open)
        steps = waiting.latest(
            store,
            validate_name(name),
            timeout=limit,
            now=self.runtime.clock.monotonic,
            recheck_every=recheck_every,
        )
        return (yield from steps)

    def _list_now(
        self, filter: str, page_size: int, page_token: str, name: str
    ) -> tuple[list[operations_pb2.Operation], str]:
        """One page of operations and the next page's token (see ``list_operations``)."""
        records, next_token = self._list_records_now(filter, page_size, page_token, name)
        return [record.operation for record in records], next_token

    def _list_records_now(
        self, filter: str, page_size: int, page_token: str, name: str
    ) -> tuple[list[OperationRecord], str]:
        """``_list_now`` with the records (times, attempts) of the operations; a damaged
        row is listed as the store's placeholder for it."""
        collection = collection_to_list(name)
        expression = parse_filter(filter)
        limit = normalized_page_size(page_size)
        fingerprint = query_fingerprint(collection, filter)
        store = self.store
        key = store.page_token_key()
        after = verify_page_token(page_token, fingerprint, key) if page_token else None
        records = store.list_page(ListQuery(collection, expression, after, limit + 1))
        page = records[:limit]
        next_token = ""
        if len(records) > limit:
            last = page[-1]
            next_token = sign_page_token(
                PageCursor(last.create_time_us, last.name), fingerprint, key
            )
        return page, next_token

    def _new_record_now(
        self,
        continued: Continued,
        parent: str,
        metadata: Message | None,
        chosen: Chosen = (None, ""),
    ) -> OperationRecord:
        """The record of a new operation, or of the one to continue, updated.

        ``chosen`` is the new operation's id (None for a uuid4) and request id ("" for
        none); an earlier operation of that request id in the collection is returned
        as it is.
        """
        name, resume_method, timed_out = continued
        store = self.store
        if name is None:
            operation_id, request_id = chosen
            new = chosen_name(operation_id, parent) if operation_id else new_name(parent)
            record = OperationRecord(
                operation=transitions.new_operation(new, metadata),
                resume_target=resume_method or "",
                trace_context=telemetry.trace_context(),
                request_id=request_id,
            )
            try:
                created = store.create(record)
            except DuplicateRequest as duplicate:
                return store.get(duplicate.existing)
            telemetry.operation_created()
            return created
        record = store.get(validate_name(name))
        if (resume_method and resume_method != record.resume_target) or timed_out:
            record = update_record(
                store,
                record,
                lambda r: r.replace(
                    resume_target=resume_method or r.resume_target,
                    wait_timed_out=r.wait_timed_out or timed_out,
                ),
            )
        return record

    def _start_type(self, name: str, state: Any, registered_elsewhere: bool) -> type[Any] | None:
        """The state type of a started operation: its handler's, else the state's.

        FailedPrecondition if no handler ``name`` is registered here, unless it is
        ``registered_elsewhere``.
        """
        _check_handler_name(name)
        registered = self.runtime.registry.handler(name)
        if registered is None and not registered_elsewhere:
            raise FailedPrecondition(
                f"no handler called {name!r} is registered on this client: register it "
                f"with @client.resumable({name!r}), or pass registered_elsewhere=True "
                "when a worker of another process registers it"
            )
        state_type = registered.state_type if registered else None
        if state_type is None and state is not None and not isinstance(state, dict | list):
            state_type = type(state)
        return state_type

    def _start_now(
        self,
        name: str,
        state: Any,
        state_type: type[Any] | None,
        metadata: Message | None,
        start: Starting = ("", 0.0),
    ) -> OperationRecord:
        """Create an operation with its first wake-up (or hand it to a cloud resumer).

        ``start`` is the request id ("" for none) and the delay in seconds before the
        first run. An earlier operation of that request id is returned as it is, and
        nothing is scheduled again.
        """
        request_id, delay = start
        encoded = codec_for(state_type).encode(state) if state is not None else None
        record = OperationRecord(
            operation=transitions.new_operation(new_name(), metadata),
            state=encoded,
            trace_context=telemetry.trace_context(),
            request_id=request_id,
        )
        try:
            return self._schedule_start(name, record, delay)
        except DuplicateRequest as duplicate:
            return self.store.get(duplicate.existing)

    def _schedule_start(self, name: str, record: OperationRecord, delay: float) -> OperationRecord:
        """Insert ``record`` with the wake-up that runs handler ``name`` after ``delay``."""
        cloud = self.cloud_resumer
        if cloud is not None and cloud.accepts("handler", ()):
            stored = start_with_task(self.store, cloud, record, name, delay)
            telemetry.operation_created()
            return stored
        plan = wait_plan(
            ResumeTarget("handler", name),
            sleep=delay,
            children=(),
            timeout=0,
            poll_frequency=0,
            child_endpoint="",
        )
        stored, wakeup = wakeup_store(self.store).schedule(record, None, plan)
        telemetry.operation_created()
        self.runtime.scheduled(wakeup)
        return stored

    def _metadata_now(self, name: str, metadata: Message) -> None:
        """Fill ``metadata`` from the stored metadata of ``name`` (blocking)."""
        unmarshal_metadata(self._get_now(name_of(name)), metadata)

    def __repr__(self) -> str:
        store = self.runtime._store if self.runtime.is_open else "not open"
        return f"{type(self).__qualname__}({store!r})"


Continued = tuple[str | None, str | None, bool]
# A new operation's chosen id (None: a uuid4) and request id ("" for none).
Chosen = tuple[str | None, str]
# A started operation's request id ("" for none) and the delay before its first run.
Starting = tuple[str, float]


def chosen_of(
    operation_id: str | None, request_id: str | None, existing: str | None, parent: str
) -> Chosen:
    """The checked ``id`` and ``request_id`` of ``new_operation``, before any I/O.

    ``request_id`` None takes the one of the request being served (see
    ``OperationInterceptor``), if any.
    """
    if operation_id is not None:
        if existing is not None:
            raise InvalidArgument("pass either existing= or id=, not both")
        chosen_name(operation_id, parent)  # InvalidArgument for a bad id or parent
    elif parent:
        validate_parent(parent)
    return operation_id, request_id_of(request_id)


def starting_of(request_id: str | None, delay: Duration) -> Starting:
    """The checked ``request_id`` and ``delay`` of ``start``, before any I/O."""
    return request_id_of(request_id), seconds(delay, "delay")


def request_id_of(request_id: str | None) -> str:
    """``request_id`` checked; None takes the served request's, once per call."""
    if request_id is None:
        call = current_call.get()
        request_id = call.take_request_id() if call is not None else ""
        if not request_id:
            return ""
    return validate_request_id(request_id)


def _check_handler_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidArgument("a handler name must be a non-empty string")


def _store_opener(store: StoreSpec) -> Store | Callable[[], Store]:
    """The store object, or a function that opens the store that ``store`` names."""
    if store is None or isinstance(store, str | SpannerConfig):
        spec = store or default_url()
        return lambda: open_store(spec)
    return store


def wait_limit(timeout: Duration | None) -> float:
    """A ``wait_operation`` timeout in seconds; None waits without limit."""
    return float("inf") if timeout is None else seconds(timeout, "timeout")


def purge_query(now_us: int, older_than: Duration, filter: str, collection: str) -> PurgeQuery:
    """What ``purge`` deletes at ``now_us``; InvalidArgument for a bad argument."""
    age_us = round(seconds(older_than, "older_than") * 1_000_000)
    return PurgeQuery(collection_to_list(collection), parse_filter(filter), now_us - age_us)


def name_of(name_or_request: str | operations_pb2.GetOperationRequest) -> str:
    """The name in a GetOperation request, or the name itself, checked."""
    if isinstance(name_or_request, operations_pb2.GetOperationRequest):
        return validate_name(name_or_request.name)
    return validate_name(name_or_request)


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


def continued_operation(existing: str | None, context: Any, resume_method: str | None) -> Continued:
    """The operation to continue, if any, the resume method, and whether a Workflows
    resume says the wait timed out; from the arguments of ``new_operation`` and the
    call that the serving interceptor recorded (read in the caller's context)."""
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
