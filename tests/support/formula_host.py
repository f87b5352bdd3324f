"""A throw-away host (:class:`tests.support.head_root.HeadRoot`) that applies this checkout's formulas.

``salt-call --local`` with the checkout's ``salt/`` as file root and its ``_states/`` as custom states,
a pillar written by the test, and the library as a wheel built from a copy of the checkout (nothing is
built in the work tree).  Used by the head formula's tests and the end-to-end test on a formula-built head.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from tests.support.head_root import HeadRoot

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SALT_CALL = os.path.join(os.path.dirname(sys.executable), "salt-call")


def build_library(d, base_python: str) -> tuple[str, str]:
    """(the library's wheel, an empty venv made by ``base_python``) under the directory ``d``."""
    src = d / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(".git", ".venv", "tests", "docs", "bench", "build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(d / "wheels")]
        + [str(src)],
        check=True,
        capture_output=True,
    )
    venv = str(d / "venv")
    subprocess.run([base_python, "-m", "venv", venv], check=True)
    return str(next((d / "wheels").iterdir())), venv


def write_config(d, minion_id: str, sls: str, data: dict) -> None:
    """``d/minion`` (salt-call's config dir) and a pillar ``d/pillar`` whose one file ``sls`` holds ``data``."""
    (d / "pillar").mkdir()
    (d / "pillar" / "top.sls").write_text(f"base:\n  '*': [{sls}]\n")
    (d / "pillar" / f"{sls}.sls").write_text(json.dumps(data))
    (d / "minion").write_text(
        yaml.safe_dump(
            {
                "file_client": "local",
                "id": minion_id,
                "root_dir": str(d / "saltroot"),
                "file_roots": {"base": [os.path.join(REPO, "salt")]},
                "pillar_roots": {"base": [str(d / "pillar")]},
                # the formulas' custom states (dcluster_worker.registered, dcluster_sge_cell)
                "states_dirs": [os.path.join(REPO, "_states")],
            }
        )
    )


@contextmanager
def formula_host(d, hostname: str, address: str) -> Iterator[HeadRoot]:
    """A started host under ``d/root``; stopped on exit, waiting (up to 20 s) until its processes are gone."""
    root = HeadRoot(str(d / "root"), hostname, address)
    root.start()
    try:
        yield root
    finally:
        pids = ns_pids(root)
        root.stop()
        deadline = time.monotonic() + 20
        while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)


def ns_pids(root: HeadRoot) -> list[int]:
    """This machine's PIDs of every process in the host's PID namespace."""
    try:
        mine = os.readlink(f"/proc/{root.target}/ns/pid")
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == mine:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def apply(root: HeadRoot, d, sls: str = "dcluster.head", *extra: str) -> dict:
    """``state.apply sls`` in the host: ``{"<id>:<name>": result}``."""
    p = root.run(
        [SALT_CALL, "-c", str(d), "--local", "state.apply", sls, *extra, "--out=json", "-l", "error"], timeout=600
    )
    assert p.stdout, p.stderr.decode()[-3000:]
    out = json.loads(p.stdout)["local"]
    assert isinstance(out, dict), out
    return {k.split("_|-")[1] + ":" + k.split("_|-")[2]: v for k, v in out.items()}


def failed(results: dict) -> dict:
    return {k: v["comment"] for k, v in results.items() if v["result"] is not True}
