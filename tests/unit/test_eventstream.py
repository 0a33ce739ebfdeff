"""The local event-stream encoder, checked against botocore's own decoder and response parser."""

from __future__ import annotations

import io
import json
import zlib

import botocore.session
import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from sparkai_local.sagemaker import eventstream


def decode_all(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


class _RawStream(io.BytesIO):
    """What botocore's EventStream reads from: a body with `.stream()` (urllib3's interface)."""

    def stream(self, amt: int = 1024):
        while chunk := self.read(amt):
            yield chunk


def sagemaker_events(data: bytes) -> EventStream:
    """`data` as botocore parses an InvokeEndpointWithResponseStream body."""
    session = botocore.session.get_session()
    model = session.get_service_model("sagemaker-runtime")
    operation = model.operation_model("InvokeEndpointWithResponseStream")
    parser = EventStreamJSONParser()  # what botocore uses for a rest-json event stream
    return EventStream(
        _RawStream(data), operation.output_shape.members["Body"], parser, operation.name
    )


def test_payload_part_round_trips_through_botocore() -> None:
    payload = 'data: {"choices": [{"delta": {"content": "héllo"}}]}\n\n'.encode()

    (message,) = decode_all(eventstream.payload_part(payload))

    assert message.payload == payload
    assert message.headers == {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert message.to_response_dict()["status_code"] == 200


def test_prelude_and_crcs_are_what_the_decoder_checks() -> None:
    data = eventstream.payload_part(b"x")
    total, headers_length = int.from_bytes(data[:4]), int.from_bytes(data[4:8])
    assert total == len(data)
    assert int.from_bytes(data[8:12]) == zlib.crc32(data[:8])
    assert int.from_bytes(data[-4:]) == zlib.crc32(data[:-4])
    assert headers_length == len(data) - 12 - 1 - 4

    corrupted = data[:-5] + b"y" + data[-4:]
    with pytest.raises(ChecksumMismatch):
        decode_all(corrupted)


def test_empty_payload_and_several_messages_in_one_buffer() -> None:
    data = eventstream.payload_part(b"") + eventstream.payload_part(b"two")

    assert [m.payload for m in decode_all(data)] == [b"", b"two"]


def test_messages_split_anywhere_decode_once_complete() -> None:
    data = eventstream.payload_part(b"first") + eventstream.payload_part(b"second")
    buffer = EventStreamBuffer()
    payloads = []
    for i in range(len(data)):
        buffer.add_data(data[i : i + 1])
        payloads += [m.payload for m in buffer]

    assert payloads == [b"first", b"second"]


def test_payload_parts_parse_as_sagemaker_events() -> None:
    events = sagemaker_events(eventstream.payload_part(b"a") + eventstream.payload_part(b"b"))

    assert list(events) == [{"PayloadPart": {"Bytes": b"a"}}, {"PayloadPart": {"Bytes": b"b"}}]


def test_model_stream_error_raises_event_stream_error() -> None:
    message = eventstream.model_stream_error("Container crashed", "ModelStreamError")
    (decoded,) = decode_all(message)
    assert decoded.headers[":message-type"] == "exception"
    assert json.loads(decoded.payload) == {
        "Message": "Container crashed",
        "ErrorCode": "ModelStreamError",
    }

    events = iter(sagemaker_events(eventstream.payload_part(b"a") + message))
    assert next(events) == {"PayloadPart": {"Bytes": b"a"}}
    with pytest.raises(EventStreamError) as raised:
        next(events)

    # botocore keeps only Code and Message: the ErrorCode member does not reach the caller.
    assert raised.value.response == {
        "Error": {"Code": "ModelStreamError", "Message": "Container crashed"}
    }


def test_internal_stream_failure_raises_event_stream_error() -> None:
    events = sagemaker_events(eventstream.internal_stream_failure("Internal failure"))

    with pytest.raises(EventStreamError) as raised:
        list(events)

    assert raised.value.response["Error"] == {
        "Code": "InternalStreamFailure",
        "Message": "Internal failure",
    }
