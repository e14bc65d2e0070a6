"""The first frame of the local profile imports none of the heavy backend libraries, no backend
package the profile does not use, and none of the dialogs (kill-switch, help, confirm): they are
imported when first needed (benchmarks/startup.py measures the time to that frame)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys
from opsconsole.cli import _load, _parser
from opsconsole.services.context import Context
from opsconsole.app import OpsConsole

seen = {}
LAZY = ("opsconsole.ui.screens.killswitch", "opsconsole.ui.screens.help", "opsconsole.ui.screens.confirm",
        "opsconsole.ui.screens.logs", "opsconsole.ui.screens.launch", "opsconsole.ui.screens.runs",
        "opsconsole.backends.airflow", "opsconsole.backends.ecs", "opsconsole.backends.kubernetes",
        "opsconsole.backends.yarn", "opsconsole.backends.ssh", "opsconsole.backends.exchanges",
        "opsconsole.backends.health")

class FirstFrame(OpsConsole):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self._first_frame)

    def _first_frame(self):
        seen["screen"] = type(self.screen).__name__
        seen["heavy"] = sorted(m for m in ("boto3", "kubernetes", "ccxt", "asyncssh") if m in sys.modules)
        seen["lazy"] = sorted(m for m in LAZY if m in sys.modules)
        self.exit()

# as `opsconsole` starts: the CLI loads the config (no [keys] remaps), then the app
FirstFrame(Context.create(_load(_parser().parse_args([])))).run(headless=True, size=(80, 24))
print(json.dumps(seen))
"""


def test_heavy_backends_and_dialogs_not_imported_by_the_first_frame(tmp_path):
    env = {**os.environ, "OPSCONSOLE_DATA_DIR": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"screen": "StatusScreen", "heavy": [], "lazy": []}
