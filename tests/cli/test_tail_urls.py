"""`opsconsole tail URL`: a scheme nobody serves is refused with a message; a registered
backend's open_url makes the reference the viewer opens."""

from __future__ import annotations

import pytest

from opsconsole.backends import registry
from opsconsole.cli import main
from opsconsole.logs.ref import FileLog
from opsconsole.services.urls import is_url, open_url


def test_unknown_scheme_is_refused_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "nosuch://host/x.log"]) == 2
    err = capsys.readouterr().err
    assert "no backend reads nosuch:// URLs" in err


def test_plain_paths_are_not_urls() -> None:
    assert is_url("s3://b/k") and is_url("ssh://h/p")
    assert not is_url("/var/log/x.log") and not is_url("file:///x") and not is_url("a.log")


def test_a_registered_scheme_reaches_its_backend(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    backend = registry.load("local")
    seen = []

    def fake_open_url(url, settings):
        seen.append((url, settings))
        return FileLog(str(log), title=url)

    monkeypatch.setitem(registry.SCHEMES, "toy", "local")
    monkeypatch.setattr(backend, "open_url", fake_open_url)
    ref = open_url("toy://anything/x.log", None)
    assert isinstance(ref, FileLog) and ref.path == str(log)
    assert seen == [("toy://anything/x.log", None)]
