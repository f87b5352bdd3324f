"""A real graphite-web (Debian ``graphite-web``) over a :class:`~tests.support.carbon.CarbonCache`'s whisper files.

``GraphiteWeb(tmpdir, carbon).start()`` writes a settings module of its own in
``tmpdir`` (the carbon's whisper directory, carbonlink to its cache query port
so points not yet on disk are read too, a sqlite file and logs under
``tmpdir``; nothing under /etc or /var is read or written) and serves Debian's
``graphite.wsgi`` application with the standard library's WSGI server on a
free 127.0.0.1 port, as our child run by ``/usr/bin/python3``; ``stop()``
stops it by that PID.  Its render API is what a site's graphite-web answers.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request

from . import alive, stop_pid, wait_for
from .carbon import PYTHON, CarbonCache, free_port

WSGI_MODULE = "/usr/lib/python3/dist-packages/graphite/wsgi.py"

SETTINGS = """\
SECRET_KEY = {secret!r}
GRAPHITE_ROOT = "/usr/share/graphite-web"
STATIC_ROOT = "/usr/share/graphite-web/static"
CONF_DIR = {d!r}
STORAGE_DIR = {d!r}
WHISPER_DIR = {whisper!r}
STANDARD_DIRS = [{whisper!r}]
LOG_DIR = {d!r} + "/log"
INDEX_FILE = {d!r} + "/index"
CARBONLINK_HOSTS = ["127.0.0.1:{query}"]
DATABASES = {{"default": {{"NAME": {d!r} + "/graphite.db", "ENGINE": "django.db.backends.sqlite3"}}}}
"""

SERVE = """\
import os, sys
os.environ["GRAPHITE_SETTINGS_MODULE"] = "dcluster_test_graphite_settings"
sys.path.insert(0, sys.argv[1])
from wsgiref.simple_server import make_server
from graphite.wsgi import application
make_server("127.0.0.1", int(sys.argv[2]), application).serve_forever()
"""


def skip_reason() -> str | None:
    if not os.path.exists(WSGI_MODULE):
        return f"{WSGI_MODULE} missing: run `bash scripts/install-system-deps.sh` (Debian graphite-web)"
    return None


class GraphiteWeb:
    def __init__(self, directory: str, carbon: CarbonCache):
        self.dir = str(directory)
        self.carbon = carbon
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> GraphiteWeb:
        os.makedirs(os.path.join(self.dir, "log"), exist_ok=True)
        with open(os.path.join(self.dir, "dcluster_test_graphite_settings.py"), "w") as fh:
            fh.write(
                SETTINGS.format(
                    secret=os.urandom(16).hex(),
                    d=self.dir,
                    whisper=self.carbon.whisper_dir,
                    query=self.carbon.query_port,
                )
            )
        log = open(os.path.join(self.dir, "log", "console.log"), "ab")
        try:
            self.proc = subprocess.Popen(
                [PYTHON, "-c", SERVE, self.dir, str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
            )
        finally:
            log.close()

        def answering():
            if self.proc.poll() is not None:
                return True
            try:
                with urllib.request.urlopen(self.url + "/render?target=none&format=json", timeout=5) as resp:
                    return resp.status == 200
            except OSError:
                return False

        try:
            wait_for(answering, timeout, 0.2, f"graphite-web answering on {self.url}")
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"graphite-web exited with {self.proc.returncode}: {self.console_tail()}")
        return self

    def stop(self) -> None:
        if self.proc is not None and alive(self.proc.pid):
            stop_pid(self.proc.pid, grace=10.0)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def console_tail(self, n: int = 2000) -> str:
        try:
            with open(os.path.join(self.dir, "log", "console.log"), errors="replace") as fh:
                return fh.read()[-n:]
        except OSError:
            return ""
