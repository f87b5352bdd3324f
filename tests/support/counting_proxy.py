"""A tiny real HTTP proxy on 127.0.0.1 that counts what goes through it.

It forwards plain-HTTP requests in absolute form (``GET http://host:port/path``)
and tunnels ``CONNECT host:port`` (HTTPS), to 127.0.0.1 only: a test proxy must
not become a way out of the machine.  Each request is recorded as
``(method, target, Proxy-Authorization header or None)``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import urllib.parse


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CountingProxy:
    def __init__(self):
        self.seen: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()
        self._srv: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    def count(self, method: str | None = None) -> int:
        with self.lock:
            return sum(1 for m, _, _ in self.seen if method is None or m == method)

    def start(self) -> CountingProxy:
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                head, rest = head.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = [ln for ln in lines[1:] if ln]
                auth = next(
                    (ln.split(":", 1)[1].strip() for ln in headers if ln.lower().startswith("proxy-authorization:")),
                    None,
                )
                with proxy.lock:
                    proxy.seen.append((method, target, auth))
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    if host != "127.0.0.1":
                        self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                        return
                    upstream = socket.create_connection((host, int(port)), timeout=10)
                    self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        upstream.sendall(rest)
                else:
                    url = urllib.parse.urlsplit(target)
                    if url.hostname != "127.0.0.1":
                        self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                        return
                    upstream = socket.create_connection((url.hostname, url.port or 80), timeout=10)
                    path = url.path + (f"?{url.query}" if url.query else "")
                    kept = [
                        ln
                        for ln in headers
                        if ln.split(":", 1)[0].strip().lower()
                        not in ("proxy-authorization", "proxy-connection", "connection")
                    ]
                    # One request per connection: the answer ends when the server closes.
                    out = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
                    upstream.sendall(out.encode("latin-1") + rest)
                t = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
                t.start()
                _pipe(self.request, upstream)
                t.join(10)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None
