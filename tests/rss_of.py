"""Run a command and report its peak resident memory: ``python -m tests.rss_of CMD...``
passes the command's stdout through and writes its own last stderr line as
``{"maxrss_mb": N}`` (this wrapper has no other child, so RUSAGE_CHILDREN is that one)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

if __name__ == "__main__":
    proc = subprocess.run(sys.argv[1:], capture_output=True, check=False)
    sys.stdout.buffer.write(proc.stdout)
    sys.stderr.buffer.write(proc.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    sys.stderr.write("\n" + json.dumps({"maxrss_mb": peak_kb / 1024}) + "\n")
    sys.exit(proc.returncode)
