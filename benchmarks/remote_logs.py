"""Benchmark: huge remote logs opened at their tail, every remote source in one run.

    python benchmarks/remote_logs.py [--only ecs|ssh]

Runs, one after the other, each in a process of its own (each starts and stops its own peer):

- `remote_logs_ecs.py` — a 900 MB S3 object and a 200k-event CloudWatch stream against moto in
  server mode: bytes transferred and time to the last line, vs boto3 downloading it whole and
  `get_log_events` from the head (issue 12);
- `remote_logs_ssh.py` — a 900 MB file over SSH (real sshd on 127.0.0.1): bytes transferred and
  time until the last line is on screen, remote search vs downloading the file (issue 14).

Each prints its own table; the exit code is non-zero if any of them failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

PARTS = {"ecs": "remote_logs_ecs.py", "ssh": "remote_logs_ssh.py"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part only")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    failed = []
    for name, script in PARTS.items():
        if args.only and name != args.only:
            continue
        print(f"\n=== {name}: {script}", flush=True)
        if subprocess.call([sys.executable, str(here / script)]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
