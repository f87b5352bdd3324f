"""A FAKE cloud endpoint (and HTTP proxy) on 127.0.0.1 whose every answer is an error echoing the request.

It stands in for the worst cloud, proxy or gateway an SDK can talk to: one
that reflects what it was sent (the ``Authorization``/``Proxy-Authorization``
headers, the URL with its query string, the body) in its error message, in
the encoding chosen by ``mode``, so the credentials a driver sends come back
through the real SDK's exception and error parsing.  With ``list_ok`` an EC2
listing answers an empty one (the engine launches only on a resource it
could list), so launches happen and their errors echo the user-data.  Keystone paths
(``/v3/auth/tokens``) answer 401 with Keystone's JSON error shape; every
other path answers 401 with EC2's XML error shape (``AuthFailure``).  Used
as the AWS ``endpoint_url``, as the AWS ``proxy`` (plain-HTTP proxying sends
the absolute URL and ``Proxy-Authorization``), and as the OpenStack ``auth_url``.
"""

from __future__ import annotations

import base64
import html
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("plain", "base64", "base64url", "quote", "quote_safe", "quote_plus", "json", "json_ascii", "xml")


def encode(text: str, mode: str) -> str:
    """``text`` as a server of that kind would reflect it."""
    if mode in ("base64", "base64url"):
        enc = base64.b64encode if mode == "base64" else base64.urlsafe_b64encode
        # three shifts: every byte of the request appears at each position of a base64 group
        return " ".join(enc((pad + text).encode("utf-8")).decode("ascii") for pad in ("", ".", ".."))
    if mode == "quote":
        return urllib.parse.quote(text)
    if mode == "quote_safe":
        return urllib.parse.quote(text, safe="")
    if mode == "quote_plus":
        return urllib.parse.quote_plus(text)
    if mode == "json":
        return json.dumps(text, ensure_ascii=False)
    if mode == "json_ascii":
        return json.dumps(text)
    if mode == "xml":
        return html.escape(text)
    return text


class EchoServer:
    def __init__(self):
        self.mode = "plain"
        self.list_ok = False  # True: EC2 DescribeInstances answers an empty listing instead of an error
        self.requests: list[dict] = []  # what was received, raw (the tests' proof that credentials were sent)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> EchoServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output readable
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                seen = {
                    "method": self.command,
                    "url": self.path,
                    "body": body,
                    "authorization": self.headers.get("Authorization", ""),
                    "proxy_authorization": self.headers.get("Proxy-Authorization", ""),
                }
                server.requests.append(seen)
                echo = (
                    f"request {seen['method']} {seen['url']} Authorization: {seen['authorization']} "
                    f"Proxy-Authorization: {seen['proxy_authorization']} body {seen['body']}"
                )
                echo = encode(echo, server.mode)
                if server.list_ok and "Action=DescribeInstances&" in body + "&":
                    # an empty EC2 listing: the engine launches only on a resource it could list
                    payload = (
                        b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns='
                        b'"http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>echo-1</requestId>'
                        b"<reservationSet/></DescribeInstancesResponse>"
                    )
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if "/v3/auth" in self.path:
                    payload = json.dumps(
                        {"error": {"code": 401, "title": "Unauthorized", "message": f"The request was refused: {echo}"}}
                    ).encode()
                    ctype = "application/json"
                else:
                    payload = (
                        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                        f"<Code>AuthFailure</Code><Message>refused: {html.escape(echo)}</Message>"
                        f"</Error></Errors><RequestID>echo-1</RequestID></Response>"
                    ).encode()
                    ctype = "text/xml"
                self.send_response(401)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="echo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
