"""Third-party backends announced by entry points are found as importlib.metadata finds them,
without importing it on the way to the first frame (backends/registry.py)."""

from __future__ import annotations

import importlib.metadata
import sys

from opsconsole.backends import registry


def _scan(group: str, monkeypatch) -> list[tuple[str, str]]:
    monkeypatch.setattr(registry, "ENTRY_POINTS", group)
    found = registry._scan_entry_points()
    assert found is not None
    return sorted(found)


def test_the_scan_finds_what_importlib_metadata_finds(tmp_path, monkeypatch):
    first = tmp_path / "first"
    second = tmp_path / "second"
    for root, version, module in ((first, "1.0", "plug_new"), (second, "0.9", "plug_old")):
        info = root / f"Ops_Plug-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: Ops_Plug\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            f"# a comment\n[console_scripts]\nops-plug = {module}:main\n\n"
            f"[opsconsole.backends]\nplug = {module}\n other = {module}.other:BACKEND \n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    for group in ("opsconsole.backends", "console_scripts", "pytest11"):
        expected = sorted((ep.name, ep.value) for ep in importlib.metadata.entry_points(group=group))
        assert _scan(group, monkeypatch) == expected
    # the first distribution of a name on sys.path wins, as with importlib.metadata
    assert _scan("opsconsole.backends", monkeypatch) == [("other", "plug_new.other:BACKEND"), ("plug", "plug_new")]


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(tmp_path, monkeypatch):
    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    monkeypatch.setattr(sys, "path", [str(archive), *sys.path])
    assert registry._scan_entry_points() is None
