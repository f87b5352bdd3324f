"""A replay server of recorded Keystone v3, Nova v2.1 and Neutron v2.0 answers, on 127.0.0.1.

The bodies are OpenStack's own published samples and the error answers Nova
builds (tests/data/cloud-output/openstack, provenance in its README).  The real
keystoneauth1 and python-novaclient talk HTTP(S) to it; what it changes in a
recorded body is only what must point at itself or name one of our servers:

* the token answer is the recorded project-scoped token of Keystone's api-ref,
  its catalog URLs moved under this server (``http://H:P/x`` becomes
  ``<self.url>/h/H:P/x``, so Nova is still reached at ``/v2.1/<project>`` of
  the recorded host) and its ``expires_at`` (2015 in the sample) moved ahead;
* a server is a recorded ``GET /servers/detail`` document (``servers``) with
  the test's id, name, metadata and status laid over it; :func:`user_view`
  removes what Nova's default policy shows to admins only;
* listings are paged like Nova's: at most ``page_size`` servers after
  ``marker``, with a ``servers_links`` next link when the page is full;
* ``answer(method, path_regex, name)`` answers the next matching request with
  one recorded fault of ``nova/faults.json`` (status, headers and body).
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import urllib.parse
import uuid
from dataclasses import dataclass

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cloud-output", "openstack")
NOVA_HOST = "23.253.248.171:8774"  # the compute endpoint's host in the recorded catalog
NEUTRON_HOST = "23.253.248.171:9696"
PROJECT = "a6944d763bf64ee6a275f1263fae0352"  # the recorded token's project id


def load(rel: str):
    with open(os.path.join(DATA, rel), encoding="utf-8") as fh:
        return json.load(fh)


def fault(name: str) -> dict:
    return copy.deepcopy(load("nova/faults.json")[name])


def user_view(doc: dict) -> dict:
    """A server document as a project member sees it: no ``OS-EXT-SRV-ATTR:*`` (admin only by Nova's policy)."""
    return {k: v for k, v in doc.items() if not k.startswith("OS-EXT-SRV-ATTR:")}


def recorded_server(sample: str = "nova/servers-details-resp.json") -> dict:
    return copy.deepcopy(load(sample)["servers"][0])


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@dataclass
class Canned:
    method: str
    path: str
    status: int
    headers: dict
    body: dict | None
    times: int = 1


class ReplayOpenStack:
    def __init__(self, *, ssl_context=None, users=None, admin_view: bool = False):
        self.users = users or {("demo", "Default"): "s3cret-passw0rd"}
        self.admin_view = admin_view
        self.ssl_context = ssl_context
        self.servers: dict[str, dict] = {}  # id -> document, in creation order
        self.page_size = 1000
        self.new_status = "ACTIVE"  # status of a server that POST /servers makes
        self.new_fault: dict | None = None  # its fault (a recorded server-error document's)
        self.canned: list[Canned] = []
        self.requests: list[tuple[str, str, dict | None]] = []
        self.headers: list[dict] = []  # each request's headers, in the order of ``requests``
        self.extra_networks: list[dict] = []  # Neutron network documents added to the recorded list
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""
        self._srv = None

    # ------------------------------------------------------------ control
    def start(self) -> ReplayOpenStack:
        app = Flask("replay_openstack")
        app.add_url_rule("/<path:path>", "any", self._dispatch, methods=["GET", "POST", "DELETE", "PUT"])
        self._srv = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_Quiet, ssl_context=self.ssl_context
        )
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self._srv.server_port}"
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    @property
    def nova_prefix(self) -> str:
        return f"/h/{NOVA_HOST}/v2.1/{PROJECT}"

    def answer(self, method: str, path: str, name: str, times: int = 1) -> dict:
        """Answer the next ``times`` requests matching ``method`` and ``path`` with recorded fault ``name``."""
        f = fault(name)
        self.canned.append(Canned(method.upper(), path, f["status"], f["headers"], f["body"], times))
        return f

    def add_server(
        self,
        name: str,
        metadata: dict,
        *,
        status: str = "ACTIVE",
        sid: str | None = None,
        sample: str = "nova/servers-details-resp.json",
        extra: dict | None = None,
    ) -> str:
        doc = recorded_server(sample)
        sid = sid or str(uuid.uuid4())
        doc.update({"id": sid, "name": name, "metadata": dict(metadata), "status": status, **(extra or {})})
        with self.lock:
            self.servers[sid] = doc
        return sid

    def posts(self, suffix: str = "/servers") -> list[dict]:
        return [b for m, p, b in self.requests if m == "POST" and p.endswith(suffix)]

    # ------------------------------------------------------------ helpers
    def _moved(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return f"{self.url}/h/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    def _json(self, body, status: int = 200, headers: dict | None = None) -> Response:
        return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")

    def _view(self, doc: dict) -> dict:
        return doc if self.admin_view else user_view(doc)

    def _dispatch(self, path: str) -> Response:
        path = "/" + path
        body = request.get_json(silent=True)
        with self.lock:
            self.requests.append((request.method, path, body))
            self.headers.append(dict(request.headers))
            for c in list(self.canned):
                if c.method == request.method and re.search(c.path, path):
                    c.times -= 1
                    if c.times <= 0:
                        self.canned.remove(c)
                    return self._json(c.body, c.status, c.headers)
        if path.startswith("/identity/v3"):
            return self._keystone(path[len("/identity/v3") :], body)
        if request.headers.get("X-Auth-Token") not in self.tokens:
            return self._json(
                {
                    "error": {
                        "code": 401,
                        "title": "Unauthorized",
                        "message": "The request you have made requires authentication.",
                    }
                },
                401,
            )
        if path.startswith(self.nova_prefix):
            return self._nova(path[len(self.nova_prefix) :], body)
        if path.startswith(f"/h/{NEUTRON_HOST}/v2.0/networks"):
            nets = load("neutron/networks-list-response.json")["networks"] + copy.deepcopy(self.extra_networks)
            for key, values in request.args.lists():  # Neutron filters on every given field, exactly
                nets = [n for n in nets if str(n.get(key)) in values]
            return self._json({"networks": nets})
        return self._json({"itemNotFound": {"code": 404, "message": f"no recorded answer for {path}"}}, 404)

    def _keystone(self, rest: str, body) -> Response:
        if rest in ("", "/") and request.method == "GET":
            doc = load("keystone/identity-version-response.json")
            doc["version"]["links"][0]["href"] = self.auth_url + "/"
            return self._json(doc)
        if rest == "/auth/tokens" and request.method == "POST":
            ident = (body or {}).get("auth", {}).get("identity", {})
            user = ident.get("password", {}).get("user", {})
            key = (user.get("name"), user.get("domain", {}).get("name"))
            if "password" not in ident.get("methods", []) or self.users.get(key) != user.get("password"):
                return self._json(
                    {
                        "error": {
                            "code": 401,
                            "title": "Unauthorized",
                            "message": "The request you have made requires authentication.",
                        }
                    },
                    401,
                )
            doc = load("keystone/auth-password-project-scoped-response.json")
            doc["token"]["expires_at"] = "2099-11-07T02:58:43.578887Z"
            for svc in doc["token"]["catalog"]:
                for ep in svc["endpoints"]:
                    ep["url"] = self._moved(ep["url"])
            token = uuid.uuid4().hex
            with self.lock:
                self.tokens.add(token)
            return self._json(doc, 201, {"X-Subject-Token": token})
        return self._json({"error": {"code": 404, "message": f"no recorded answer for {rest}"}}, 404)

    def _nova(self, rest: str, body) -> Response:
        m = request.method
        if rest == "/flavors/detail" and m == "GET":
            return self._json(load("nova/flavors-detail-resp.json"))
        if rest == "/servers/detail" and m == "GET":
            return self._page()
        if rest == "/servers" and m == "POST":
            return self._create((body or {}).get("server", {}))
        sid = rest[len("/servers/") :] if rest.startswith("/servers/") else None
        with self.lock:
            doc = self.servers.get(sid) if sid else None
            if sid and doc is None:
                return self._json(
                    {"itemNotFound": {"code": 404, "message": f"Instance {sid} could not be found."}}, 404
                )
            if doc is not None and m == "GET":
                return self._json({"server": self._view(doc)})
            if doc is not None and m == "DELETE":
                del self.servers[sid]
                return Response("", 204)
        return self._json({"itemNotFound": {"code": 404, "message": f"no recorded answer for {rest}"}}, 404)

    def _page(self) -> Response:
        size = min(int(request.args.get("limit", self.page_size)), self.page_size)
        with self.lock:
            docs = list(self.servers.values())
        marker = request.args.get("marker")
        if marker is not None:
            ids = [d["id"] for d in docs]
            if marker not in ids:
                return self._json({"badRequest": {"code": 400, "message": f"marker [{marker}] not found"}}, 400)
            docs = docs[ids.index(marker) + 1 :]
        page = docs[:size]
        out: dict = {"servers": [self._view(d) for d in page]}
        if len(page) == size and len(docs) > size:  # Nova links the next page when this one is full
            out["servers_links"] = [
                {
                    "rel": "next",
                    "href": f"{self.url}{self.nova_prefix}/servers/detail?"
                    + urllib.parse.urlencode({"limit": size, "marker": page[-1]["id"]}),
                }
            ]
        return self._json(out)

    def _create(self, b: dict) -> Response:
        lo = int(b.get("min_count", 1))
        hi = int(b.get("max_count", lo))
        made = []
        for i in range(hi):
            name = b.get("name", "") if hi == 1 else f"{b.get('name', '')}-{i + 1}"  # Nova's multi-create names
            extra = {"OS-EXT-SRV-ATTR:launch_index": i, "OS-EXT-SRV-ATTR:reservation_id": "r-3fhpjulh"}
            if self.new_fault:
                extra["fault"] = copy.deepcopy(self.new_fault)
            made.append(
                self.add_server(
                    name,
                    b.get("metadata", {}),
                    status=self.new_status,
                    sample="nova/v2.3-servers-details-resp.json",
                    extra=extra,
                )
            )
        if b.get("return_reservation_id") in (True, "True", "true"):
            return self._json(load("nova/multiple-create-post-resp.json"), 202)
        resp = load("nova/server-create-resp.json")
        resp["server"]["id"] = made[0]
        return self._json(resp, 202)
