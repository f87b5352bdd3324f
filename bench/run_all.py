"""``make bench``: run every bench/*.py script (but this one) and print each one's last line.

Scripts run one after another, each in its own interpreter (argument lists,
no shell); a failing script is reported and the others still run.  Exit
status is non-zero if any failed.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    scripts = sorted(p for p in glob.glob(os.path.join(HERE, "*.py")) if os.path.basename(p) != "run_all.py")
    failed = 0
    for path in scripts:
        name = os.path.basename(path)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, path], cwd=os.path.dirname(HERE), capture_output=True, text=True)
        took = time.perf_counter() - t0
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        last = lines[-1] if lines else "(no output)"
        if proc.returncode:
            failed += 1
            err = [line for line in proc.stderr.splitlines() if line.strip()]
            print(f"{name}: FAILED (exit {proc.returncode}, {took:.0f} s): {err[-1] if err else last}")
        else:
            print(f"{name}: {last}  ({took:.0f} s)")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
