"""Everything a session of opsconsole works with, built once by the CLI: the config, the
chosen profile, its ledger, its backend sessions and its kill-switch plan.

Generic: the backends come from the registry (the ones the profile enables), never by name."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from opsconsole.backends import registry
from opsconsole.backends.base import BackendSession, LaunchTarget, SessionEnv
from opsconsole.config import paths
from opsconsole.config.settings import Config, Profile
from opsconsole.domain.models import utcnow

if TYPE_CHECKING:
    from opsconsole.services.ledger import Ledger

_LEDGER_OPEN = threading.Lock()


@dataclass
class Context:
    config: Config
    profile: Profile
    data_dir: Path
    clock: Callable[[], datetime] = utcnow
    _ledger: "Ledger | None" = field(default=None, init=False, repr=False)
    _sessions: list[BackendSession] | None = field(default=None, init=False, repr=False)

    @classmethod
    def create(cls, config: Config, profile_name: str | None = None, data_dir: Path | None = None) -> "Context":
        profile = config.profile(profile_name)
        return cls(config=config, profile=profile, data_dir=data_dir or paths.profile_dir(profile.name))

    @property
    def ledger(self) -> "Ledger":
        """The profile's ledger (opened on first use; migrations run then)."""
        with _LEDGER_OPEN:  # the kill-switch opens it from worker threads, maybe two at once
            if self._ledger is None:
                from opsconsole.services.ledger import Ledger

                self.data_dir.mkdir(parents=True, exist_ok=True)
                self._ledger = Ledger(Ledger.default_path(self.data_dir))
            return self._ledger

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    # --- backends -------------------------------------------------------------------------------
    @property
    def sessions(self) -> list[BackendSession]:
        """The profile's backends, opened (cheap: clients connect on first use)."""
        if self._sessions is None:
            sessions = []
            for backend in registry.enabled(self.profile):
                env = SessionEnv(
                    profile=self.profile.name, environment=self.profile.environment,
                    readonly=self.profile.readonly, settings=backend.settings(self.profile.table(backend.name)),
                    store=lambda: self.ledger, data_dir=self.data_dir, clock=self.clock,
                    kill_deadline=self.profile.killswitch.deadline,
                    kill_options=self.profile.killswitch.__dict__)
                sessions.append(backend.open(env))
            self._sessions = sessions
        return self._sessions

    def session(self, name: str) -> BackendSession | None:
        """The open session of backend `name`, or None when the profile doesn't enable it."""
        return next((s for s in self.sessions if s.backend.name == name), None)

    def target(self, name: str) -> LaunchTarget | None:
        """The launch target a preset names (`target = "<name>"`) on this profile."""
        for session in self.sessions:
            for target in session.targets():
                if target.name == name:
                    return target
        return None

    def recover(self) -> None:
        """(Blocking.) Let every backend settle the runs that outlived their watcher."""
        for session in self.sessions:
            session.recover()

    def pending(self) -> list[str]:
        return [p for s in (self._sessions or []) for p in s.pending()]

    def killswitch(self):
        """The kill-switch engine armed with this profile's plan."""
        from opsconsole.services.killplan import build_plan
        from opsconsole.services.killswitch import KillSwitch

        # the ledger is opened by the engine's recorder, off the critical path: a broken one
        # never stops a kill (services/killswitch.py)
        return KillSwitch(lambda: self.ledger, build_plan(self), self.data_dir / "killswitch.lock",
                          state_dir=self.data_dir, profile=self.profile.name)

    def preset_dirs(self) -> list[Path]:
        return paths.search_dirs("presets")

    async def aclose(self) -> None:
        """Close every backend session (on quit)."""
        for session in self._sessions or []:
            try:
                await session.aclose()
            except Exception:  # noqa: BLE001 - closing on exit must not raise
                pass

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
