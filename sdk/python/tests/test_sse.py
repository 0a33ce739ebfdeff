"""The incremental SSE decoder on its own: framing rules and every way bytes can be split."""

from __future__ import annotations

import pytest

from sparkaistream._streaming import ServerSentEvent, SSEDecoder


def decode(*pieces: bytes, flush: bool = True) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.flush() if flush else events


def datas(*pieces: bytes) -> list[str]:
    return [event.data for event in decode(*pieces)]


def test_simple_events() -> None:
    assert datas(b'data: {"a":1}\n\ndata: [DONE]\n\n') == ['{"a":1}', "[DONE]"]


def test_comments_are_keep_alives_and_are_ignored() -> None:
    body = b": ping - 2025-01-01 00:00:00\n\ndata: x\n\n:\n\n: another\ndata: y\n\n"
    assert datas(body) == ["x", "y"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending(newline: str) -> None:
    body = f"data: one{newline}{newline}: keep-alive{newline}data: two{newline}{newline}".encode()
    assert datas(body) == ["one", "two"]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert datas(b"data: first\ndata: second\ndata:\ndata:  indented\n\n") == [
        "first\nsecond\n\n indented"
    ]


def test_only_one_space_after_the_colon_is_stripped_and_no_colon_means_empty_value() -> None:
    assert datas(b"data:no-space\n\n") == ["no-space"]
    assert datas(b"data\ndata: x\n\n") == ["\nx"]


def test_event_id_and_retry_fields() -> None:
    [event] = decode(b"event: error\nid: 7\nretry: 1500\ndata: {}\n\n")
    assert (event.event, event.id, event.retry, event.data) == ("error", "7", 1500, "{}")
    [plain] = decode(b"data: {}\n\n")
    assert plain.event == "message"


def test_unknown_fields_and_empty_events_dispatch_nothing() -> None:
    assert decode(b"foo: bar\n\nevent: x\n\n\n\n") == []


def test_leading_byte_order_mark_is_dropped() -> None:
    assert datas(b"\xef\xbb\xbfdata: x\n\n") == ["x"]


def test_nothing_is_dispatched_before_the_blank_line() -> None:
    assert decode(b"data: x\n", flush=False) == []
    assert decode(b"data: x\n\n", flush=False)[0].data == "x"


def test_a_last_event_without_its_blank_line_is_flushed_at_eof() -> None:
    assert datas(b"data: a\n\ndata: [DONE]") == ["a", "[DONE]"]
    assert datas(b"data: a\n\ndata: [DONE]\n") == ["a", "[DONE]"]


BODY = (
    ': ping\r\n\r\ndata: {"content":"h\xc3\xa9llo \xe2\x9c\xa8"}\r\n\r\n'.encode("latin-1")
    + b"data: line1\ndata: line2\n\n"
    + b"data: [DONE]\r\n\r\n"
)
EXPECTED = ['{"content":"héllo ✨"}', "line1\nline2", "[DONE]"]


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_events_split_at_any_byte(cut: int) -> None:
    """Including inside a CRLF pair and inside a multi-byte UTF-8 character."""
    assert datas(BODY[:cut], BODY[cut:]) == EXPECTED


def test_events_delivered_one_byte_at_a_time() -> None:
    assert datas(*(BODY[i : i + 1] for i in range(len(BODY)))) == EXPECTED


def test_a_cr_at_the_end_of_a_piece_waits_for_a_possible_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r\n\r") == []
    [event] = decoder.feed(b"\ndata: y")
    assert event.data == "x"
    assert [e.data for e in decoder.flush()] == ["y"]


def test_only_the_first_feff_is_a_bom_and_only_cr_lf_end_a_line() -> None:
    body = "\ufeff\ufeffdata: skipped\n\ndata: a\u2028b\u2029c\x85d\x0be\x00f\rdata: g\r\n\r\n"
    raw = body.encode()
    # '\ufeffdata' is not the field name 'data': that line is ignored, as the spec says
    expected = ["a\u2028b\u2029c\x85d\x0be\x00f\ng"]
    assert datas(raw) == expected
    assert datas(*(raw[i : i + 1] for i in range(len(raw)))) == expected
