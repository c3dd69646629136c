"""``operation_json``: proto3 JSON of operations, with Anys of unknown types kept as
their type URL and bytes wherever they sit, and everything else as json_format has it."""

from __future__ import annotations

import json
import subprocess
import sys

import google.longrunning.operations_proto_pb2 as operations_pb2
from google.protobuf import any_pb2, json_format, struct_pb2, timestamp_pb2
from google.rpc import code_pb2, status_pb2

from lro._core.operation_json import any_json, message_json, operation_json
from tests.unknown_type import TYPE_URL, opaque, secret


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def test_known_types_render_as_json_format_renders_them() -> None:
    operation = operations_pb2.Operation(
        name="operations/a",
        done=True,
        metadata=_packed(struct_pb2.Struct(fields={"n": struct_pb2.Value(number_value=1)})),
        response=_packed(timestamp_pb2.Timestamp(seconds=5)),
    )
    assert operation_json(operation) == json_format.MessageToDict(operation)
    page = operations_pb2.ListOperationsResponse(operations=[operation])
    page.next_page_token = "next"  # noqa: S105 (a page token, not a password)
    assert message_json(page) == json_format.MessageToDict(page)


def test_unknown_types_at_the_top_and_in_error_details() -> None:
    operation = operations_pb2.Operation(
        name="operations/a",
        metadata=_packed(secret("m")),
        done=True,
        error=status_pb2.Status(
            code=code_pb2.ABORTED, message="no", details=[_packed(secret("d"))]
        ),
    )
    assert operation_json(operation) == {
        "name": "operations/a",
        "metadata": opaque(secret("m")),
        "done": True,
        "error": {"code": code_pb2.ABORTED, "message": "no", "details": [opaque(secret("d"))]},
    }


def test_an_unknown_type_inside_a_known_one_keeps_the_known_one_readable() -> None:
    status = status_pb2.Status(code=5, message="inner", details=[_packed(secret("deep"))])
    operation = operations_pb2.Operation(name="operations/a", metadata=_packed(status))
    assert operation_json(operation)["metadata"] == {
        "@type": "type.googleapis.com/google.rpc.Status",
        "code": 5,
        "message": "inner",
        "details": [opaque(secret("deep"))],
    }
    twice = _packed(_packed(secret("x")))  # an Any in an Any: the inner one under "value"
    assert any_json(twice) == {
        "@type": "type.googleapis.com/google.protobuf.Any",
        "value": opaque(secret("x")),
    }


def test_bytes_that_do_not_decode_keep_their_bytes() -> None:
    broken = any_pb2.Any(type_url="type.googleapis.com/google.rpc.Status", value=b"\x0a\xff")
    assert any_json(broken) == {"@type": broken.type_url, "value": "Cv8="}
    unknown = any_pb2.Any(type_url=TYPE_URL, value=b"\x0a\xff")
    assert any_json(unknown) == {"@type": TYPE_URL, "value": "Cv8="}


def test_well_known_types_render_as_json_in_a_process_that_never_imported_them() -> None:
    # A generic server (``lro serve``) imports none of the caller's modules; a StringValue
    # there must still render as proto3 JSON ("x"), not as bytes under the same "value"
    # key, which a JSON client would read as the string "CgF4".
    program = """
import json
from google.protobuf import any_pb2
from lro._core.operation_json import any_json
packed = any_pb2.Any(
    type_url="type.googleapis.com/google.protobuf.StringValue", value=b"\\n\\x01x"
)
print(json.dumps(any_json(packed)))
"""
    printed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(printed) == {
        "@type": "type.googleapis.com/google.protobuf.StringValue",
        "value": "x",
    }
