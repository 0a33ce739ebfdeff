"""The local AWS process parses request headers without the email package
(sparkai_local.fast_headers). A header block must come out as the message http.client's own
parser makes: same fields, same order, same payload and defects, for plain blocks and odd ones."""

from __future__ import annotations

import http.client
import io
import random
from typing import Any

import pytest

from sparkai_local import fast_headers

SIGNED = (
    b"Host: 127.0.0.1:41234\r\n"
    b"Accept-Encoding: identity\r\n"
    b"X-Amz-Target: DynamoDB_20120810.UpdateItem\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\n"
    b"User-Agent: Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux\r\n"
    b"X-Amz-Date: 20261126T200000Z\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=local/20261126/us-east-1/dynamodb/aws4_request, "
    b"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc\r\n"
    b"amz-sdk-invocation-id: 6f1c\r\n"
    b"Content-Length: 1234\r\n"
    b"\r\n"
)

BLOCKS = [
    SIGNED,
    b"\r\n",
    b"\n",
    b"Host: a\n\n",  # bare LF endings
    b"Host: a\r\nhost: b\r\nHOST: c\r\n\r\n",  # repeated names keep order and case
    b"X-Empty:\r\nX-Spaces:   \t padded  \r\n\r\n",  # leading blanks dropped, trailing kept
    b"X-Colon: a:b:c\r\n\r\n",
    b"X-Latin: caf\xe9\r\n\r\n",  # iso-8859-1
    b"X-Folded: one\r\n two\r\n\tthree\r\nNext: x\r\n\r\n",  # continuation lines
    b" Leading: space\r\n\r\n",  # a continuation with nothing to continue
    b"No colon here\r\nHost: a\r\n\r\n",  # not a field: the rest is the body
    b"Bad Name: x\r\n\r\n",  # a space in the name
    b"From someone@example.com\r\nHost: a\r\n\r\n",  # a Unix From line
    b"From: someone@example.com\r\n\r\n",  # a From field
    b"X-Cr: a\rb\r\n\r\n",  # a bare CR inside a line
    b"X-Ctl: a\x0bb\x0cc\x1cd\x85e\r\n\r\n",  # what str.splitlines would split, the parser not
    b":empty-name\r\n\r\n",
    b"Host: a\r\n",  # no blank line (connection closed)
    b"Host: a",  # a last line without its end
]


def _lines(block: bytes) -> list[bytes]:
    return list(io.BytesIO(block))  # what http.client._read_headers reads: one line per \n


def _state(message: Any) -> dict[str, Any]:
    state = dict(vars(message))
    state["defects"] = [type(d) for d in message.defects]
    return state


@pytest.mark.parametrize("block", BLOCKS, ids=range(len(BLOCKS)))
def test_same_message_as_the_email_parser(block: bytes) -> None:
    lines = _lines(block)
    stock = fast_headers._stock(lines, http.client.HTTPMessage)
    fast = fast_headers.parse_header_lines(lines, http.client.HTTPMessage)
    assert type(fast) is type(stock)
    assert _state(fast) == _state(stock)
    assert fast.items() == stock.items()


def test_random_blocks_agree() -> None:
    rng = random.Random(20261126)
    pieces = [
        b"Host",
        b"X-A",
        b": ",
        b":",
        b" ",
        b"\t",
        b"v",
        b"\r",
        b"\n",
        b"\r\n",
        b"\xe9",
        b"From ",
    ]
    for _ in range(3000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) + b"\r\n\r\n"
        lines = _lines(block)
        # _read_headers stops at the first empty line: keep what it would have read
        end = next((i for i, ln in enumerate(lines) if ln in (b"\r\n", b"\n")), len(lines) - 1)
        lines = lines[: end + 1]
        stock = fast_headers._stock(lines, http.client.HTTPMessage)
        fast = fast_headers.parse_header_lines(lines, http.client.HTTPMessage)
        assert _state(fast) == _state(stock), block


def test_install_is_what_parse_headers_uses() -> None:
    fast_headers.install()
    try:
        message = http.client.parse_headers(io.BytesIO(SIGNED))
        assert http.client._parse_header_lines is fast_headers.parse_header_lines  # type: ignore[attr-defined]
    finally:
        fast_headers.uninstall()
    assert message["X-Amz-Target"] == "DynamoDB_20120810.UpdateItem"
    assert message.get_all("content-length") == ["1234"]
    assert http.client._parse_header_lines is fast_headers._stock  # type: ignore[attr-defined]
