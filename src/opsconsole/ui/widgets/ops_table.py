"""The app's table: a DataTable with the keys operators bring from k9s and less (j k g G Home
End, besides the arrows and pgup/pgdn). Every table of the app should be one."""

from __future__ import annotations

from textual.widgets import DataTable

from opsconsole.ui.bindings import bindings


class OpsTable(DataTable):
    BINDINGS = bindings("table")
