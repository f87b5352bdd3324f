"""Copy templates/head-userdata.sh into the all-in-one templates that embed it.

Each template holds the script as a YAML literal block that starts on the line ending with
MARKER.  Run this after editing the script: python3 templates/embed_userdata.py
(tests/unit/test_templates.py fails while a copy differs from the script).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "head-userdata.sh")
TEMPLATES = (os.path.join(HERE, "openstack", "all-in-one.yaml"), os.path.join(HERE, "aws", "all-in-one.yaml"))
MARKER = "# templates/head-userdata.sh, copied here by templates/embed_userdata.py"


def embed(template: str, script: str) -> str:
    """``template`` with the literal block after MARKER replaced by ``script``."""
    lines = template.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip().endswith(MARKER)]
    if len(starts) != 1:
        raise ValueError(f"expected one line ending with {MARKER!r}, found {len(starts)}")
    start = starts[0]
    # The block's indentation: two more than the line that opens it.
    indent = len(lines[start]) - len(lines[start].lstrip()) + 2
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent):
        end += 1
    if any(line != line.rstrip(" \t\n") + "\n" for line in script.splitlines(keepends=True)):
        raise ValueError("the script has trailing blanks or no final newline: a YAML block would change it")
    block = "".join((" " * indent + line) if line.strip() else "\n" for line in script.splitlines(keepends=True))
    # Blank lines that ended the old block but belong to what follows stay where they were.
    tail = end
    while tail > start + 1 and not lines[tail - 1].strip():
        tail -= 1
    return "".join(lines[: start + 1]) + block + "".join(lines[tail:end]) + "".join(lines[end:])


def main() -> int:
    with open(SCRIPT) as fh:
        script = fh.read()
    for path in TEMPLATES:
        with open(path) as fh:
            old = fh.read()
        new = embed(old, script)
        if new != old:
            with open(path, "w") as fh:
                fh.write(new)
            print(f"updated {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
