"""HTTP/1.1 keep-alive for the local AWS endpoint.

Werkzeug's development server ends every response with `Connection: close` (http.server cannot
drain an unread request body before the next request line), so every DynamoDB call of the API
process paid a new TCP connection, a getaddrinfo and a new server thread: about a quarter of the
API process's CPU per chat request on the 2-core benchmark machine, and a thread start per call
in the local AWS process. botocore keeps connections open whenever the server lets it.

This handler reads the whole request body before the application runs (so nothing is left
unread), answers with an exact Content-Length in one write, and leaves the connection open. A
request it cannot frame that way (chunked upload, `Expect: 100-continue`) is served by
werkzeug's own code path, which closes the connection as before. Requests are still handled one
at a time by the server's application lock: keep-alive changes how bytes travel, not atomicity.
"""

from __future__ import annotations

import io
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

# Status codes that never carry a body (RFC 9110), so no Content-Length either.
_NO_BODY = {204, 304}
# Framing is ours: whatever the application said about these is replaced.
_FRAMING = {"content-length", "transfer-encoding", "connection"}


class KeepAliveRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per call drowns output
        return None

    def _framable(self) -> bool:
        return (
            "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
            and not self.headers.get("Expect")
            and self.headers.get("Content-Length", "0").isdigit()
        )

    def run_wsgi(self) -> None:
        if not self._framable():
            self.close_connection = True
            super().run_wsgi()
            return
        environ = self.make_environ()
        length = int(self.headers.get("Content-Length", "0"))
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length else b"")
        self.environ = environ
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return body.append  # the legacy write() callable

        body: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                body.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # as werkzeug: a bare 500, logged
            self.server.log("error", f"Error on request: {exc!r}")
            started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            body[:] = [b"Internal Server Error"]
        status, headers = started
        code = int(status.split(None, 1)[0])
        payload = b"" if code in _NO_BODY else b"".join(body)
        lines = [f"{self.protocol_version} {status}\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in headers if k.lower() not in _FRAMING]
        if code not in _NO_BODY:
            lines.append(f"Content-Length: {len(payload)}\r\n")
        if self.close_connection:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        self.wfile.write(head if environ["REQUEST_METHOD"] == "HEAD" else head + payload)
        self.wfile.flush()
