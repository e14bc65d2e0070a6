"""The backend contract: every outside system opsconsole talks to is one package under
backends/ that exports one :class:`Backend` object, and generic code (services/, ui/, the CLI)
only ever loops over the registry — it never names a backend.

A backend declares, in its package:

* its profile table — ``schema`` (checked by ``config check``, unknown keys are errors) and
  :meth:`Backend.settings` (the typed settings built from the checked table);
* the ``actions`` its panes offer (data: id, label, keys, policy class — see domain/actions.py);
* the preset table of its launch targets (``preset_schema``);

and, for one profile, :meth:`Backend.open` returns a :class:`BackendSession` (its clients'
lifecycle: opened lazily, closed on quit) that offers pane sources, launch targets, kill steps
and log openers (a source's :meth:`PaneSource.open_log` returns a log *reference*).

Backends never import Textual, services/ or each other (import-linter contracts in
pyproject.toml). What they need from the rest of opsconsole reaches them through
:class:`SessionEnv`: the run store (the ledger, behind the :class:`RunStore` interface), the
profile's data dir, the clock, the kill-switch deadline. See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from opsconsole.domain.actions import Action, ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item
from opsconsole.domain.kill import KillStep
from opsconsole.domain.models import HaltLatch, RunRecord, RunSpec
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.config.presets import Preset
    from opsconsole.domain.balances import BalanceSnapshot  # annotations only: not on the first frame's path
    from opsconsole.config.schema import Spec, Table
    from opsconsole.logs.ref import LogRef

__all__ = [
    "Action", "ActionCall", "ActionUnavailable", "Backend", "BackendSession", "DESCRIBE", "DRILL", "KillStep",
    "LIVE", "LOG", "LaunchRefused", "LaunchTarget", "PaneSource", "Preview", "RunLog", "RunStore", "SessionEnv",
]

# Pane capabilities, declared by a source (never found with getattr)
DRILL, DESCRIBE, LOG = "drill", "describe", "log"
# A source that knows when its items change (a Kubernetes watch): the pane fetches as soon as
# `changed()` returns, and `interval` is only the fallback.
LIVE = "live"


class LaunchRefused(RuntimeError):
    """A launch was refused before anything started (HALTED, a DAG outside the profile...)."""


class RunStore(Protocol):
    """What backends may do with the ledger (services/ledger.py implements it): record runs
    and their states, read the halt latch. Backends never import the ledger itself."""

    def create_run(self, spec: RunSpec, state: State = ..., result_dir: Path | str | None = None) -> RunRecord: ...

    def update_run(self, run_id: int, **fields: Any) -> RunRecord: ...

    def transition(self, run_id: int, from_states: Iterable[State], **fields: Any) -> RunRecord | None: ...

    def claim_run(self, run_id: int, attempt: int, log_path: Path | str) -> bool: ...

    def request_stop(self, run_ids: Iterable[int]) -> None: ...

    def stop_requested(self, run_id: int) -> bool: ...

    def process_identity(self, run_id: int) -> tuple[int | None, str | None]: ...

    def get_run(self, run_id: int) -> RunRecord | None: ...

    def list_runs(self, limit: int = 500, states: Iterable[State] | None = None, search: str | None = None,
                  target: str | None = None) -> list[RunRecord]: ...

    def active_runs(self, target: str | None = None) -> list[RunRecord]: ...

    def find_succeeded(self, fingerprint: str) -> RunRecord | None: ...

    def halt_latch(self) -> HaltLatch | None: ...

    def recovery_rows(self, target: str) -> list[dict[str, Any]]: ...

    def add_snapshot(self, snapshot: BalanceSnapshot) -> int: ...

    def last_snapshot(self, account: str) -> BalanceSnapshot | None: ...


@dataclass(frozen=True)
class RunLog:
    """One part of a ledger run's log, as a local file holding the part's whole text (a local
    run's log in place; a remote task's log spooled): what balances and reports read."""

    name: str                        # "flatten_account1" (an Airflow task), "run.log"
    path: Path
    started_at: datetime | None = None


@dataclass
class SessionEnv:
    """What a backend session gets from the profile it serves."""

    profile: str
    environment: str
    readonly: bool
    settings: Any                  # the backend's typed settings (Backend.settings)
    store: Callable[[], RunStore]  # the ledger, opened on first use
    data_dir: Path                 # the profile's data dir (spools go under data_dir/spool/<backend>)
    clock: Callable[[], datetime]
    kill_deadline: float = 30.0
    kill_options: Mapping[str, Any] | None = None  # the profile's [killswitch] table, as checked


class PaneSource:
    """One table of the Status screen (and its drill-down levels).

    ``fetch`` returns the current items and raises on a backend error (the pane turns stale
    and retries with backoff). Capabilities are declared in ``capabilities``; ``actions`` are
    the actions this level offers (a subset of its backend's)."""

    key: str = ""
    title: str = ""
    columns: tuple[Column, ...] = ()
    interval: float = 5.0
    scope: str = ""                          # the backend's name: its actions' key scope
    capabilities: ClassVar[frozenset[str]] = frozenset()
    actions: tuple[Action, ...] = ()
    warning: str | None = None               # shown in the pane's title

    async def fetch(self) -> list[Item]:
        raise NotImplementedError

    async def changed(self) -> None:
        """Returns once the items changed since the last fetch; only with LIVE (it may also
        hold back a burst of changes a little, so the pane redraws once for many)."""
        await asyncio.get_running_loop().create_future()  # never: a polled source

    def related(self, refs: Mapping[str, str]) -> "PaneSource | None":
        """A level of this source with what belongs to another pane's item, named by its
        `Item.refs` (the pods of an Airflow task instance); None when nothing here relates."""
        return None

    def drill(self, item: Item) -> "PaneSource | None":
        """enter: the child level (DAG → its runs); only with the DRILL capability."""
        return None

    async def describe(self, item: Item) -> dict[str, Any]:
        """d: the full object, fetched on demand; only with DESCRIBE (else the item's detail)."""
        return item.detail

    async def open_log(self, item: Item) -> "LogRef":
        """l: the item's log as a reference; only with LOG."""
        raise LookupError(f"{self.title} {item.key}: no log")

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        """The action `action_id` on `item`, ready for the runner; raises ActionUnavailable
        when it does not apply here (the message says what to select)."""
        raise ActionUnavailable(f"{action_id}: not available in {self.title}")

    def offers(self, action_id: str) -> bool:
        return any(a.id == action_id for a in self.actions)


@dataclass(frozen=True)
class Preview:
    """A part of the Launch screen's preview (and of `launch --dry-run`): the DAG run conf..."""

    caption: str
    text: str
    lexer: str | None = None


class LaunchTarget(Protocol):
    """Where a preset's runs go (a preset's ``target = "<name>"``), on one profile. Every run
    launched is a ledger run: the target records it through the run store before it starts it.
    (How a target is named and previewed needs no profile: see Backend.target_label.)"""

    name: str

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]: ...

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        """Until the runs ended (or, with `started_only`, started): the CLI waits on this;
        targets whose runs live elsewhere return at once."""
        ...


class BackendSession:
    """A backend opened for one profile. Everything has a harmless default."""

    def __init__(self, backend: "Backend", env: SessionEnv) -> None:
        self.backend = backend
        self.env = env

    def sources(self) -> list[PaneSource]:
        return []

    def targets(self) -> list[LaunchTarget]:
        return []

    def kill_steps(self) -> list[KillStep]:
        return []

    async def sync(self) -> list[str]:
        """Bring the ledger's runs of this backend up to date; the problems met, one a line."""
        return []

    def recover(self) -> list[RunRecord]:
        """(Blocking; call in a thread.) Settle runs that outlived the process that watched them."""
        return []

    def pending(self) -> list[str]:
        """Work that needs this process alive (queued local runs), for the quit warning."""
        return []

    async def run_logs(self, run: RunRecord, parts: Sequence[str] = ("*",)) -> list[RunLog] | None:
        """The logs of ledger run `run` when it is this backend's (None when it is not): one
        per part whose name matches one of the glob `parts` (a DAG run's task instances), in the
        order they started. A run with a single log returns it whatever `parts` say. Default:
        the run's own log file, when the ledger has one."""
        if run.log_path and Path(run.log_path).is_file():
            return [RunLog(Path(run.log_path).name, Path(run.log_path), run.started_at)]
        return None

    async def balance_snapshots(self) -> tuple[list[BalanceSnapshot], list[str]]:
        """Every account's balances now (exchange accounts), and the problems met per account."""
        return [], []

    async def reconciliation(self) -> list[tuple[str, str]]:
        """(section, line) to show before the HALTED latch is released (open orders left,
        balances against the last snapshot); [] when the backend has nothing to say."""
        return []

    async def aclose(self) -> None:
        """Close clients and stop background jobs (on quit)."""


class Backend:
    """One outside system. Subclasses set the class attributes and implement `open`."""

    name: str = ""                       # its profile table: [profiles.P.<name>]
    title: str = ""
    schema: "Spec | None" = None         # that table's schema (a Table, or an ArrayOf tables)
    always: bool = False                 # enabled without a table (the embedded local runner)
    preset_schema: "Table | None" = None  # a preset's [<name>] table when it launches here
    actions: tuple[Action, ...] = ()     # every action of its panes (keys, help, palette)

    def settings(self, table: Any) -> Any:
        """The typed settings of a checked profile table (None when the profile has none)."""
        return table

    def open(self, env: SessionEnv) -> BackendSession:
        return BackendSession(self, env)

    def preset_problems(self, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
        """Checks of a preset's [<name>] table beyond its schema."""
        return []

    # --- as a launch target (backends with a preset_schema); no profile needed: the Launch
    # screen and `launch --dry-run` show what a preset would send anywhere
    def ledger_target(self, preset: "Preset") -> str:
        """The ledger's target column for runs of `preset` ("local", "airflow:<dag>")."""
        return self.name

    def target_label(self, preset: "Preset") -> str:
        """How the Launch screen names where the runs go ("airflow DAG x")."""
        return self.title

    def preview(self, spec: RunSpec) -> list[Preview]:
        """Extra preview parts for one run beyond its command line (the DAG run conf)."""
        return []

    # --- logs by URL (`opsconsole tail s3://bucket/key`): the schemes are declared in the
    # registry's SCHEMES (so a URL imports only its own backend)
    def open_url(self, url: str, settings: Any | None) -> "LogRef":
        """A log reference for `url`, with the typed settings of the profile's table for this
        backend (None when the profile has none: use the user's defaults — ~/.aws, ~/.ssh).
        Must not block: I/O happens when the viewer opens the reference. Raises ValueError
        with a message for the operator when the URL cannot be served."""
        raise ValueError(f"{self.name}: cannot open {url}")
