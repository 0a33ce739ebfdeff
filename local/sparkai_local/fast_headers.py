"""HTTP header blocks parsed without the email package, in the local AWS process only.

http.server (under werkzeug's development server) reads each request's header lines and hands
them to `email.parser`, whose feed parser is built for mail: about a tenth of the local AWS
process's CPU per DynamoDB call went there, for seven or eight plain `Name: value` lines.

`install()` replaces `http.client._parse_header_lines` (what `parse_headers` calls with the
lines it read) by one that builds the same HTTPMessage directly when every line is a plain
header field as the email parser's own pattern defines it, and hands anything else (folded
continuation lines, a line that is not a field, "From " lines) to the email parser unchanged.
Same message, same headers in the same order, for every input (tests/unit/test_fast_headers.py).

Only `sparkai_local.aws_server`'s main() installs it: the API process, whose code is what runs in
Lambda, keeps the standard library as it is.
"""

from __future__ import annotations

import http.client
import re
from typing import Any

_stock = http.client._parse_header_lines  # type: ignore[attr-defined]
# email.feedparser's headerRE with a name (an empty one is a defect), minus its "From " and
# continuation-line branches: those fall back.
_FIELD = re.compile(r"[\041-\071\073-\176]+:")
_ENDS = ("\r\n", "\n", "")  # what ends a header block (http.client._read_headers)


def parse_header_lines(header_lines: list[bytes], _class: Any = http.client.HTTPMessage) -> Any:
    """What http.client._parse_header_lines returns, for the same lines."""
    fields: list[tuple[str, str]] = []
    last = len(header_lines) - 1
    for index, raw in enumerate(header_lines):
        line = raw.decode("iso-8859-1")
        if line in _ENDS and index == last:
            break
        # The email parser splits lines at \r, \n and \r\n; readline() only at \n.
        text = line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else "\r"
        if "\r" in text or not _FIELD.match(text) or text.startswith("From "):
            return _stock(header_lines, _class)
        if index < last and header_lines[index + 1][:1] in (b" ", b"\t"):
            return _stock(header_lines, _class)  # a folded field
        name, _, value = text.partition(":")
        fields.append((name, value.lstrip(" \t")))
    else:
        return _stock(header_lines, _class)  # no blank line to end the block
    message = _class()
    for name, value in fields:
        message.set_raw(name, value)
    message.set_payload("")
    return message


def install() -> None:
    http.client._parse_header_lines = parse_header_lines  # type: ignore[attr-defined]


def uninstall() -> None:
    http.client._parse_header_lines = _stock  # type: ignore[attr-defined]
