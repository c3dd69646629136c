"""``lro.Client``: the entry point, bound to one store."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf.message import Message

from lro._calls import current_call
from lro._core import transitions
from lro._core.codecs import codec_for
from lro._core.durations import Duration, seconds
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
from lro._operation import Operation, no_default_state
from lro._store.base import OperationRecord, Store, update_record
from lro._store.spanner_config import SpannerConfig
from lro._store.urls import default_url, open_store
from lro._unmarshal import unmarshal_operation
from lro._wait import latest_in_store

T = TypeVar("T")
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
    """

    def __init__(
        self,
        store: str | SpannerConfig | Store | None = None,
        *,
        project: str | None = None,
        location: str | None = None,
        resume_host: str | None = None,
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
        codec = codec_for(state_type)
        default_state = no_default_state(state_type) if state_type else (lambda: None)
        name, resume_method = _continued_operation(existing, context, resume_method)
        if name is not None:
            record = self.store.get(validate_name(name))
            if resume_method and resume_method != record.resume_target:
                record = update_record(
                    self.store, record, lambda r: r.replace(resume_target=resume_method)
                )
        else:
            operation = transitions.new_operation(new_name(parent), metadata)
            record = self.store.create(
                OperationRecord(operation=operation, resume_target=resume_method or "")
            )
        return Operation(self, record, codec, default_state, callback)

    def close(self) -> None:
        """Close the store."""
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


def _continued_operation(
    existing: str | None, context: Any, resume_method: str | None
) -> tuple[str | None, str | None]:
    """The operation to continue, if any, and the resume method, from the arguments of
    ``new_operation`` and the call that the serving interceptor recorded."""
    name = existing or _name_in_context(context)
    call = current_call.get()
    if call is not None:
        resumed = call.take_operation_name()
        return name or resumed, resume_method or call.method
    return name, resume_method


def _name_in_context(context: Any) -> str | None:
    """The operation named by the call's ``x-alis-operation-id`` metadata, if any."""
    if context is None:
        return None
    for key, value in context.invocation_metadata() or ():
        if key.lower() == OPERATION_ID_HEADER and value:
            return name_from_header(value if isinstance(value, str) else value.decode())
    return None
