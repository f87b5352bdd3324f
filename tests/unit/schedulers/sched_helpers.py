"""A recording run callable: adapters' command sequences are checked without Salt or daemons."""

from __future__ import annotations

import os
import re

from dcluster.config import load

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "scheduler-output")


def data(path: str) -> str:
    with open(os.path.join(DATA, path)) as fh:
        return fh.read()


def cluster_config(kind: str, **config):
    return load({"secret": "0123456789abcdef", "cluster": {"type": kind, "config": config}}).cluster.config


class Recorder:
    """run(argv, stdin) that logs argv and answers from rules: (regex over ' '.join(argv), rc, stdout, stderr)."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.files: dict[str, str] = {}  # contents of file arguments at call time
        self.rules: list[tuple[re.Pattern, int, str, str]] = []

    def on(self, pattern: str, stdout: str = "", rc: int = 0, stderr: str = "") -> Recorder:
        self.rules.insert(0, (re.compile(pattern), rc, stdout, stderr))
        return self

    def __call__(self, argv, stdin=None):
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), argv
        self.calls.append(list(argv))
        for arg in argv:
            if arg.startswith("/") and os.path.isfile(arg) and "dcluster-sge-" in arg:
                with open(arg) as fh:
                    self.files[arg] = fh.read()
        line = " ".join(argv)
        for pattern, rc, out, err in self.rules:
            if pattern.search(line):
                return rc, out, err
        return 0, "", ""

    def lines(self) -> list[str]:
        return [" ".join(c) for c in self.calls]
