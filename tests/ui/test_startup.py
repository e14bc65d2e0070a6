"""The first frame of the local profile imports none of the heavy backend libraries."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, sys
from opsconsole.config.settings import load_config
from opsconsole.services.context import Context
from opsconsole.app import OpsConsole

seen = {}

class FirstFrame(OpsConsole):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self._first_frame)

    def _first_frame(self):
        seen["screen"] = type(self.screen).__name__
        seen["heavy"] = sorted(m for m in ("boto3", "kubernetes", "ccxt", "asyncssh") if m in sys.modules)
        self.exit()

FirstFrame(Context.create(load_config(None))).run(headless=True, size=(80, 24))
print(json.dumps(seen))
"""


def test_heavy_backends_not_imported_by_the_first_frame():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"screen": "StatusScreen", "heavy": []}
