"""An HTTP fake of Keystone v3 and Nova v2.1 for the OpenStack driver's tests.

No real OpenStack can run here (see the project's environment notes), so the
driver is tested with the real keystoneauth1 and python-novaclient talking
HTTP to this small Flask app on 127.0.0.1.  It implements what the driver
uses, with Nova's documented shapes and error bodies:

* ``POST /identity/v3/auth/tokens``: password (user/project domains) and
  application-credential auth, a catalog with one compute endpoint per region;
* ``GET /compute/v2.1/flavors/detail``, ``POST /servers`` (``min_count`` /
  ``max_count``, multi-create names ``<name>-<i>``, an instance quota that
  answers 403 "Quota exceeded ..." or creates fewer), ``GET /servers/detail``,
  ``GET/DELETE /servers/<id>``; listings are paged like Nova's (``page_size``,
  ``limit``, ``marker``);
* injected faults: ``fake.fail(method, path_regex, status, message)`` answers
  once with that error, ``fake.fail(..., delay=s)`` answers late (timeouts),
  ``fake.no_valid_host = True`` puts new servers in ERROR with Nova's fault.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # keep test output readable
        pass


NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@dataclass
class Fault:
    method: str
    path: str
    status: int = 500
    message: str = "Internal Server Error"
    delay: float = 0.0
    times: int = 1


@dataclass
class FakeOpenStack:
    users: dict = field(default_factory=lambda: {("demo", "Default"): "s3cret-passw0rd"})
    projects: dict = field(default_factory=lambda: {("demo", "Default"): "p-0001"})
    app_creds: dict = field(default_factory=lambda: {"ac-0001": "appcred-s3cret"})
    region: str = "RegionOne"
    images: set = field(default_factory=lambda: {"11111111-2222-3333-4444-555555555555"})
    flavors: dict = field(
        default_factory=lambda: {"fl-small": ("m1.small", 2, 2048), "fl-large": ("m1.large", 8, 16384)}
    )
    quota_instances: int = 100
    no_valid_host: bool = False
    page_size: int = 1000  # Nova's osapi_max_limit: a listing answers at most this many servers

    def __post_init__(self):
        self.servers: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()
        self.list_calls = 0
        self.app = self._build()
        self._server = None
        self.url = ""

    # -------------------------------------------------------------- control
    def start(self) -> FakeOpenStack:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        message: str = "Internal Server Error",
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        self.faults.append(Fault(method.upper(), path, status, message, delay, times))

    def add_server(self, name: str, metadata: dict, status: str = "ACTIVE") -> str:
        """A server someone else made (not through the API under test)."""
        sid = str(uuid.uuid4())
        self.servers[sid] = self._server_doc(sid, name, metadata, "fl-small", next(iter(self.images)), status, 0)
        return sid

    # -------------------------------------------------------------- app
    def _server_doc(self, sid, name, metadata, flavor, image, status, index):
        n = len(self.servers) + 10
        return {
            "id": sid,
            "name": name,
            "status": status,
            "metadata": dict(metadata),
            "tenant_id": "p-0001",
            "user_id": "u-0001",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "addresses": {"private": [{"addr": f"127.200.0.{n % 250 + 2}", "version": 4}]},
            "flavor": {"id": flavor, "links": []},
            "image": {"id": image, "links": []},
            "links": [],
            "OS-EXT-STS:task_state": None,
            "OS-EXT-SRV-ATTR:launch_index": index,
            "_fresh": True,
        }

    def _build(self) -> Flask:
        app = Flask("fake_openstack")
        fake = self

        def error(status, message, key=None):
            key = key or {
                400: "badRequest",
                401: "unauthorized",
                403: "forbidden",
                404: "itemNotFound",
                413: "overLimit",
            }.get(status, "computeFault")
            return jsonify({key: {"code": status, "message": message}}), status

        @app.before_request
        def inject():
            body = request.get_json(silent=True)
            fake.requests.append((request.method, request.path, body))
            for f in list(fake.faults):
                if f.method == request.method and re.search(f.path, request.path):
                    f.times -= 1
                    if f.times <= 0:
                        fake.faults.remove(f)
                    if f.delay:
                        time.sleep(f.delay)
                    return error(f.status, f.message)
            if request.path.startswith("/compute/") and request.path.rstrip("/") not in ("/compute/v2.1", "/compute"):
                if request.headers.get("X-Auth-Token") not in fake.tokens:
                    return error(401, "The request you have made requires authentication.")
            return None

        @app.get("/identity/v3")
        @app.get("/identity/v3/")
        def keystone_version():
            return jsonify(
                {
                    "version": {
                        "id": "v3.14",
                        "status": "stable",
                        "links": [{"rel": "self", "href": fake.auth_url + "/"}],
                        "media-types": [
                            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
                        ],
                    }
                }
            )

        @app.post("/identity/v3/auth/tokens")
        def tokens():
            ident = (request.get_json(silent=True) or {}).get("auth", {}).get("identity", {})
            scope = (request.get_json(silent=True) or {}).get("auth", {}).get("scope", {})
            ok = False
            if "password" in ident.get("methods", []):
                user = ident.get("password", {}).get("user", {})
                key = (user.get("name"), user.get("domain", {}).get("name"))
                proj = scope.get("project", {})
                pkey = (proj.get("name"), proj.get("domain", {}).get("name"))
                ok = fake.users.get(key) == user.get("password") and (
                    pkey in fake.projects or proj.get("id") in fake.projects.values()
                )
            elif "application_credential" in ident.get("methods", []):
                cred = ident.get("application_credential", {})
                ok = fake.app_creds.get(cred.get("id")) == cred.get("secret")
            if not ok:
                return jsonify(
                    {
                        "error": {
                            "code": 401,
                            "title": "Unauthorized",
                            "message": "The request you have made requires authentication.",
                        }
                    }
                ), 401
            token = uuid.uuid4().hex
            fake.tokens.add(token)
            compute = fake.url + "/compute/v2.1"
            body = {
                "token": {
                    "methods": ident.get("methods", []),
                    "expires_at": "2099-01-01T00:00:00.000000Z",
                    "issued_at": "2026-01-01T00:00:00.000000Z",
                    "user": {"id": "u-0001", "name": "demo", "domain": {"id": "default", "name": "Default"}},
                    "project": {"id": "p-0001", "name": "demo", "domain": {"id": "default", "name": "Default"}},
                    "catalog": [
                        {
                            "type": "compute",
                            "name": "nova",
                            "id": "c1",
                            "endpoints": [
                                {
                                    "id": f"e{i}",
                                    "interface": iface,
                                    "region": fake.region,
                                    "region_id": fake.region,
                                    "url": compute,
                                }
                                for i, iface in enumerate(("public", "internal", "admin"))
                            ],
                        }
                    ],
                }
            }
            resp = jsonify(body)
            resp.status_code = 201
            resp.headers["X-Subject-Token"] = token
            return resp

        @app.get("/compute/v2.1")
        @app.get("/compute/v2.1/")
        def nova_version():
            return jsonify(
                {
                    "version": {
                        "id": "v2.1",
                        "status": "CURRENT",
                        "version": "2.79",
                        "min_version": "2.1",
                        "updated": "2013-07-23T11:33:21Z",
                        "links": [{"rel": "self", "href": fake.url + "/compute/v2.1/"}],
                    }
                }
            )

        @app.get("/compute/v2.1/flavors/detail")
        def flavors():
            return jsonify(
                {
                    "flavors": [
                        {
                            "id": fid,
                            "name": n,
                            "vcpus": c,
                            "ram": r,
                            "disk": 20,
                            "links": [],
                            "OS-FLV-EXT-DATA:ephemeral": 0,
                            "os-flavor-access:is_public": True,
                            "swap": "",
                            "rxtx_factor": 1.0,
                        }
                        for fid, (n, c, r) in fake.flavors.items()
                    ]
                }
            )

        @app.post("/compute/v2.1/servers")
        def create():
            b = (request.get_json(silent=True) or {}).get("server", {})
            if b.get("imageRef") not in fake.images:
                return error(400, f"Image {b.get('imageRef')} could not be found.")
            if b.get("flavorRef") not in fake.flavors:
                return error(400, f"Flavor {b.get('flavorRef')} could not be found.")
            lo, hi = int(b.get("min_count", 1)), int(b.get("max_count", b.get("min_count", 1)))
            with fake.lock:
                used = sum(1 for s in fake.servers.values() if s["status"] != "DELETED")
                room = fake.quota_instances - used
                if room < lo:
                    return error(
                        403,
                        f"Quota exceeded for instances: Requested {lo}, but already used {used} of "
                        f"{fake.quota_instances} instances",
                    )
                n = min(hi, room)
                meta = b.get("metadata", {})
                if b.get("user_data"):
                    base64.b64decode(b["user_data"])  # Nova rejects what is not base64
                made = []
                for i in range(n):
                    sid = str(uuid.uuid4())
                    name = b["name"] if n == 1 and hi == 1 else f"{b['name']}-{i + 1}"
                    doc = fake._server_doc(
                        sid, name, meta, b["flavorRef"], b["imageRef"], "ERROR" if fake.no_valid_host else "BUILD", i
                    )
                    doc["user_data"] = b.get("user_data")
                    if fake.no_valid_host:
                        doc["fault"] = {"code": 500, "message": NO_VALID_HOST, "created": doc["created"]}
                    fake.servers[sid] = doc
                    made.append(sid)
            return jsonify(
                {
                    "server": {
                        "id": made[0],
                        "links": [],
                        "adminPass": "x-not-a-secret",
                        "OS-DCF:diskConfig": "MANUAL",
                        "security_groups": [{"name": "default"}],
                    }
                }
            ), 202

        def public(doc):
            out = {k: v for k, v in doc.items() if not k.startswith("_") and k != "user_data"}
            if doc.get("_fresh"):
                doc["_fresh"] = False
            elif doc["status"] == "BUILD":
                doc["status"] = "ACTIVE"
            return out

        @app.get("/compute/v2.1/servers/detail")
        def detail():
            # Nova pages its listings: at most page_size servers (osapi_max_limit), after ``marker``.
            size = min(int(request.args.get("limit", fake.page_size)), fake.page_size)
            with fake.lock:
                live = [s for s in fake.servers.values() if s["status"] != "DELETED"]
                marker = request.args.get("marker")
                if marker is not None:
                    ids = [s["id"] for s in live]
                    if marker not in ids:
                        return error(400, f"marker [{marker}] not found")
                    live = live[ids.index(marker) + 1 :]
                fake.list_calls += 1
                return jsonify({"servers": [public(s) for s in live[:size]]})

        @app.get("/compute/v2.1/servers/<sid>")
        def show(sid):
            s = fake.servers.get(sid)
            if s is None or s["status"] == "DELETED":
                return error(404, f"Instance {sid} could not be found.")
            return jsonify({"server": public(s)})

        @app.delete("/compute/v2.1/servers/<sid>")
        def delete(sid):
            s = fake.servers.get(sid)
            if s is None or s["status"] == "DELETED":
                return error(404, f"Instance {sid} could not be found.")
            s["status"] = "DELETED"
            return "", 204

        return app
