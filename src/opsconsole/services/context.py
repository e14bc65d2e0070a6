"""Everything a session of opsconsole works with, built once by the CLI: the config, the
chosen profile, its ledger, its local runner and its kill-switch plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from opsconsole.config import paths
from opsconsole.config.settings import Config, Profile
from opsconsole.domain.models import BatchOptions, utcnow


@dataclass
class Context:
    config: Config
    profile: Profile
    data_dir: Path
    clock: Callable[[], datetime] = utcnow
    _ledger: object | None = field(default=None, init=False, repr=False)
    _runner: object | None = field(default=None, init=False, repr=False)

    @classmethod
    def create(cls, config: Config, profile_name: str | None = None, data_dir: Path | None = None) -> "Context":
        profile = config.profile(profile_name)
        return cls(config=config, profile=profile, data_dir=data_dir or paths.profile_dir(profile.name))

    @property
    def ledger(self):
        """The profile's ledger (opened on first use; migrations run then)."""
        if self._ledger is None:
            from opsconsole.services.ledger import Ledger

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._ledger = Ledger(Ledger.default_path(self.data_dir))
        return self._ledger

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def has_runner(self) -> bool:
        return self._runner is not None

    @property
    def runner(self):
        """The local runner (the embedded default backend)."""
        if self._runner is None:
            from opsconsole.backends.local import LocalRunner

            self._runner = LocalRunner(self.ledger, self.runs_dir, grace=self.profile.local.grace)
        return self._runner

    @property
    def batch_options(self) -> BatchOptions:
        local = self.profile.local
        return BatchOptions(parallelism=local.parallelism, retries=local.retries,
                            abort_on_error=local.abort_on_error, incremental=local.incremental)

    def killswitch(self):
        """The kill-switch engine armed with this profile's plan."""
        from opsconsole.services.killplan import build_plan
        from opsconsole.services.killswitch import KillSwitch

        return KillSwitch(self.ledger, build_plan(self), self.data_dir / "killswitch.lock")

    def preset_dirs(self) -> list[Path]:
        return paths.search_dirs("presets")

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
