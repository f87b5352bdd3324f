"""Fake scheduler commands on PATH: each replays a recorded output and logs the argv it was given.

Used where nothing real can run (Torque is not packaged for Debian 12).  A
fake is a small Python script named like the command (``qstat``,
``pbsnodes``...) in a temp dir; it appends ``[name, *args]`` as a JSON line
to the log and answers from ``responses.json``: for its name, the first rule
whose ``args`` (a list of strings that must all appear among the arguments,
in any position) match gives ``stdout`` (text, or ``@/path`` to replay a
file), ``stderr`` and ``rc``.  No rule: rc 0, no output.
"""

from __future__ import annotations

import json
import os
import stat
import sys

SCRIPT = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
name = os.path.basename(sys.argv[0])
with open(os.path.join(here, "argv.log"), "a") as fh:
    fh.write(json.dumps([name] + sys.argv[1:]) + "\\n")
with open(os.path.join(here, "responses.json")) as fh:
    rules = json.load(fh).get(name, [])
for rule in rules:
    if all(a in sys.argv[1:] for a in rule.get("args", [])):
        out = rule.get("stdout", "")
        if out.startswith("@"):
            with open(out[1:]) as f:
                out = f.read()
        sys.stdout.write(out)
        sys.stderr.write(rule.get("stderr", ""))
        sys.exit(rule.get("rc", 0))
"""


class FakeCommands:
    def __init__(self, directory: str, names: list[str]):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.responses: dict[str, list[dict]] = {}
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "w") as fh:
                fh.write(SCRIPT.format(python=sys.executable))
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.save()

    def respond(
        self,
        name: str,
        stdout: str = "",
        rc: int = 0,
        stderr: str = "",
        args: list[str] | None = None,
        file: str | None = None,
    ) -> None:
        """Add a rule (rules added first win)."""
        self.responses.setdefault(name, []).append(
            {"args": list(args or []), "stdout": f"@{file}" if file else stdout, "stderr": stderr, "rc": rc}
        )
        self.save()

    def reset(self) -> None:
        self.responses = {}
        self.save()
        self.clear_log()

    def save(self) -> None:
        with open(os.path.join(self.dir, "responses.json"), "w") as fh:
            json.dump(self.responses, fh)

    def clear_log(self) -> None:
        try:
            os.unlink(os.path.join(self.dir, "argv.log"))
        except FileNotFoundError:
            pass

    def calls(self) -> list[list[str]]:
        try:
            with open(os.path.join(self.dir, "argv.log")) as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return []

    @property
    def path_env(self) -> str:
        return self.dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
