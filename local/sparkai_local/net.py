"""Listening sockets for uvicorn servers we bind ourselves (to know a `--port 0` port up front)."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket whose connections get TCP_NODELAY.

    asyncio turns Nagle's algorithm off only for sockets whose protocol is IPPROTO_TCP, and
    socket.create_server() leaves it 0. With Nagle on, a streamed chunk written right after the
    response headers waits for the client's delayed ACK: ~40 ms per response on a kept-alive
    connection, which is most of a streaming latency budget.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock
