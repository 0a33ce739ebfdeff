"""The AWS event-stream encoder: the binary framing of InvokeEndpointWithResponseStream bodies."""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7  # header value type: UTF-8 string with a u16 length
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message: prelude (total length, headers length, CRC), headers, payload, message CRC."""
    encoded_headers = _headers(headers)
    total = _PRELUDE.size + _CRC.size + len(encoded_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(encoded_headers))
    prelude += _CRC.pack(zlib.crc32(prelude))
    message = prelude + encoded_headers + payload
    return message + _CRC.pack(zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """A PayloadPart event carrying `data` verbatim (what botocore yields as PayloadPart.Bytes)."""
    return encode_message(
        {
            ":event-type": "PayloadPart",
            ":content-type": "application/octet-stream",
            ":message-type": "event",
        },
        data,
    )


def _exception(exception_type: str, body: dict[str, str]) -> bytes:
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(body).encode(),
    )


def model_stream_error(message: str, error_code: str = "ModelStreamError") -> bytes:
    """The container failed mid-stream; botocore raises EventStreamError code ModelStreamError."""
    return _exception("ModelStreamError", {"Message": message, "ErrorCode": error_code})


def internal_stream_failure(message: str) -> bytes:
    """SageMaker itself failed mid-stream; botocore raises EventStreamError code InternalStreamFailure."""
    return _exception("InternalStreamFailure", {"Message": message})
