"""The Airflow backend without a server: secrets never printed, the kill step when a listing
fails, the shared session, the log spool's async open. A protocol-faithful fake Airflow 3 (or 2)
answers through an httpx MockTransport; the behaviour against real servers is tested in
test_airflow_backend.py."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from opsconsole.backends.airflow.client import AirflowClient, AirflowError, AirflowSettings, redact_url
from opsconsole.backends.airflow import kill as af
from opsconsole.backends.airflow.logs import DONE, AirflowLogSpool
from opsconsole.domain.kill import StepLog

SECRET = "s3cr3t-Pa55"


class FakeAirflow:
    """Just enough of Airflow 3's /api/v2 (or 2's /api/v1) for the kill step and logs."""

    def __init__(self, major: int = 3, runs: dict[str, list[str]] | None = None,
                 broken_listings: tuple[str, ...] = (), broken_dags: tuple[str, ...] = ()) -> None:
        self.major = major
        self.runs = runs if runs is not None else {"d1": ["r1", "r2"], "d2": []}
        self.broken_listings = broken_listings  # run ids whose task-instance listing fails
        self.broken_dags = broken_dags  # dag ids whose runs listing fails
        self.calls: list[tuple[str, str, dict]] = []
        self.auth: list[str] = []
        self.log = b'{"timestamp": "2025-01-01T00:00:00Z", "level": "info", "event": "hello"}\n'
        self.n_extra_dags = 0  # paused DAGs beyond `runs` (a huge server: 50,000)
        self.failed_runs: set[tuple[str, str]] = set()
        self.ti_stays_running: set[str] = set()  # run ids whose task never reports ended

    @property
    def prefix(self) -> str:
        return "/api/v2" if self.major == 3 else "/api/v1"

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, path, body))
        if path == "/api/v2/monitor/health":
            return httpx.Response(200 if self.major == 3 else 404, json={})
        if path == "/api/v1/health":
            return httpx.Response(200 if self.major == 2 else 404, json={})
        if path == "/auth/token":
            return httpx.Response(201, json={"access_token": "jwt"})
        self.auth.append(request.headers.get("Authorization", ""))
        if not path.startswith(self.prefix):
            return httpx.Response(404, json={"detail": "not found"})
        parts = path[len(self.prefix):].strip("/").split("/")
        if parts == ["dags"]:
            dags = [{"dag_id": d, "is_paused": False, "tags": []} for d in self.runs]
            total = len(dags) + self.n_extra_dags
            offset, limit = int(request.url.params.get("offset", 0)), int(request.url.params.get("limit", 100))
            page = [dags[i] if i < len(dags) else {"dag_id": f"d_{i:06d}", "is_paused": True, "tags": []}
                    for i in range(offset, min(total, offset + limit))]
            return httpx.Response(200, json={"dags": page, "total_entries": total})
        if parts == ["dags", "~", "dagRuns"]:
            states = request.url.params.get_list("state")
            rows = [self._run(d, r, "failed" if (d, r) in self.failed_runs else "running")
                    for d, rs in self.runs.items() if d not in self.broken_dags for r in rs]
            rows = [r for r in rows if not states or r["state"] in states]
            if any(d in self.broken_dags for d in self.runs):
                return httpx.Response(500, json={"detail": "database is locked"})
            return httpx.Response(200, json={"dag_runs": rows, "total_entries": len(rows)})
        if len(parts) == 6 and parts[4] == "taskInstances" and request.method == "GET":
            ended = (parts[1], parts[3]) in self.failed_runs and parts[3] not in self.ti_stays_running
            return httpx.Response(200, json={"dag_id": parts[1], "dag_run_id": parts[3], "task_id": parts[5],
                                             "try_number": 1, "state": "failed" if ended else "running",
                                             "end_date": "2025-01-01T00:00:05Z" if ended else None})
        if len(parts) == 2 and parts[0] == "dags" and request.method == "PATCH":
            return httpx.Response(200, json={"dag_id": parts[1], "is_paused": body["is_paused"]})
        if len(parts) == 3 and parts[2] == "dagRuns":
            if parts[1] in self.broken_dags:
                return httpx.Response(500, json={"detail": "database is locked"})
            rows = [self._run(parts[1], r) for r in self.runs.get(parts[1], [])]
            return httpx.Response(200, json={"dag_runs": rows, "total_entries": len(rows)})
        if len(parts) == 4 and parts[2] == "dagRuns" and request.method == "PATCH":
            self.failed_runs.add((parts[1], parts[3]))
            return httpx.Response(200, json=self._run(parts[1], parts[3], body["state"]))
        if len(parts) == 5 and parts[4] == "taskInstances":
            if parts[3] in self.broken_listings:
                return httpx.Response(500, json={"detail": "database is locked"})
            ti = {"dag_id": parts[1], "dag_run_id": parts[3], "task_id": "work", "try_number": 1, "state": "running"}
            return httpx.Response(200, json={"task_instances": [ti], "total_entries": 1})
        if len(parts) == 8 and parts[6] == "logs":
            if request.headers.get("Accept") == "application/x-ndjson":
                return httpx.Response(200, content=self.log)
            return httpx.Response(200, json={"content": [{"event": "Task killed!"}], "continuation_token": None})
        return httpx.Response(404, json={"detail": f"unexpected {request.method} {path}"})

    @staticmethod
    def _run(dag_id: str, run_id: str, state: str = "running") -> dict:
        return {"dag_id": dag_id, "dag_run_id": run_id, "state": state}

    def client(self, url: str = "http://airflow.test", **settings) -> AirflowClient:
        settings = {"username": "admin", "password": SECRET, **settings}
        return AirflowClient(AirflowSettings(url=url, **settings), transport=httpx.MockTransport(self.handler))

    def patched(self, kind: str) -> list[str]:
        """The run ids marked failed (kind "dagRuns") or DAG ids paused (kind "dags")."""
        if kind == "dagRuns":
            return sorted(p.split("/")[-1] for m, p, _ in self.calls if m == "PATCH" and "/dagRuns/" in p)
        return sorted(p.split("/")[-1] for m, p, _ in self.calls if m == "PATCH" and "/dagRuns" not in p)


# --- secrets --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("http://airflow.example.com:8080/base", "http://airflow.example.com:8080/base"),
    ("https://user:pw@airflow.example.com/x?y=1", "https://***@airflow.example.com/x?y=1"),
    ("https://user@airflow.example.com", "https://***@airflow.example.com"),
    ("https://user:p@ss@airflow.example.com", "https://***@airflow.example.com"),
    ("https://user:pa/ss@airflow.example.com", "https://***@airflow.example.com"),
    ("https://user:pa#ss@airflow.example.com:8080", "https://***@airflow.example.com:8080"),
    ("not a url", "not a url"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_settings_repr_hides_credentials_and_userinfo():
    settings = AirflowSettings(url=f"http://admin:{SECRET}@airflow.test", username="admin", password=SECRET,
                               username_env="AF_USER", password_env="AF_PASS")
    text = repr(settings)
    assert SECRET not in text and "admin" not in text and "password=" not in text
    assert "url='http://***@airflow.test'" in text and "password_env='AF_PASS'" in text
    assert SECRET not in str(settings) and SECRET not in f"{settings}"
    assert settings == AirflowSettings(url=settings.url, username="admin", password=SECRET,
                                       username_env="AF_USER", password_env="AF_PASS")


async def test_errors_name_the_url_without_userinfo():
    fake = FakeAirflow(major=3)
    fake.handler = lambda request: httpx.Response(404)  # no Airflow there
    client = fake.client(url=f"http://admin:{SECRET}@airflow.test")
    try:
        with pytest.raises(AirflowError) as info:
            await client.list_dags()
    finally:
        await client.aclose()
    assert "http://***@airflow.test" in str(info.value) and SECRET not in str(info.value)


async def test_basic_auth_comes_from_the_settings_never_the_url():
    fake = FakeAirflow(major=2)
    client = fake.client(url="http://urluser:urlpass@airflow.test")
    try:
        await client.list_dags()
    finally:
        await client.aclose()
    assert fake.auth == ["Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()]


def _context(tmp_path, url: str = "http://airflow.test"):
    """A real Context of a profile with Airflow (the client talks to no server until used)."""
    text = (f'[profiles.af.airflow]\nurl = "{url}"\ndags = ["d*"]\nusername_env = "OPSC_UNIT_USER"\n'
            'password_env = "OPSC_UNIT_PASS"\n')
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context

    return Context.create(parse_config(text, str(tmp_path / "c.toml")), "af", data_dir=tmp_path / "data")


def test_kill_step_description_redacts_userinfo(tmp_path):
    # the config refuses such a URL; the step must not print one that slipped through anyway
    step = af.airflow_kill_step(AirflowSettings.from_profile({"url": f"https://admin:{SECRET}@airflow.test"}), 30)
    assert SECRET not in step.description and "https://***@airflow.test" in step.description


def test_one_session_per_context_shares_one_client(tmp_path):
    ctx, other = _context(tmp_path), _context(tmp_path)
    session = ctx.session("airflow")
    assert ctx.session("airflow") is session and ctx.session("airflow").client is session.client
    assert other.session("airflow") is not session and other.session("airflow").client is not session.client


async def test_shared_session_logs_in_and_detects_the_version_once(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSC_UNIT_USER", "admin")
    monkeypatch.setenv("OPSC_UNIT_PASS", SECRET)
    fake = FakeAirflow(major=3)
    ctx = _context(tmp_path)
    session = ctx.session("airflow")
    session.client._transport = httpx.MockTransport(fake.handler)
    try:
        for _ in range(3):
            await ctx.session("airflow").client.list_dags()
        await session.aclose()  # closing on quit: the session stays usable, no new login
        await ctx.session("airflow").client.list_dags()
    finally:
        await ctx.aclose()
    paths = [p for _, p, _ in fake.calls]
    assert paths.count("/auth/token") == 1 and paths.count("/api/v2/monitor/health") == 1


# --- the kill step --------------------------------------------------------------------------------
async def _stop(fake: FakeAirflow, deadline: float = 5.0, **kw) -> tuple[str, StepLog]:
    client = fake.client()
    log = StepLog()
    try:
        detail = await af.stop_everything(client, log, deadline=deadline, **kw)
    finally:
        await client.aclose()
    return detail, log


def _states(log: StepLog) -> dict[tuple[str, str], str]:
    return {(o.kind, o.ident): o.state for o in log.objects}


async def test_kill_step_ok_when_every_listing_answers():
    fake = FakeAirflow()
    detail, log = await _stop(fake)
    assert log.verdict() is None, log.objects
    states = _states(log)
    assert states[("dag run", "d1/r1")] == states[("dag run", "d1/r2")] == "confirmed"
    assert states[("dag", "d1")] == states[("dag", "d2")] == "confirmed"
    assert states[("task", "d1/r1/work try 1")] == "confirmed"
    assert fake.patched("dagRuns") == ["r1", "r2"] and fake.patched("dags") == ["d1", "d2"]
    assert not any("/logs/" in p for _, p, _ in fake.calls)  # never the log: state and fields confirm


async def test_kill_step_fails_when_a_task_listing_fails_but_still_stops_everything():
    fake = FakeAirflow(broken_listings=("r2",))
    _, log = await _stop(fake)
    assert log.verdict() == "unknown"
    states = _states(log)
    assert states[("listing", "d1/r2")] == "not confirmed" and states[("task", "d1/r1/work try 1")] == "confirmed"
    assert fake.patched("dagRuns") == ["r1", "r2"] and fake.patched("dags") == ["d1", "d2"]


async def test_kill_step_with_a_hanging_listing_still_stops_within_its_deadline():
    fake = FakeAirflow(runs={"d1": ["r1"]})
    handler = fake.handler

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances"):
            await asyncio.sleep(30)
        return handler(request)

    client = AirflowClient(AirflowSettings(url="http://airflow.test", username="admin", password=SECRET),
                           transport=httpx.MockTransport(slow))
    log = StepLog()
    try:
        await asyncio.wait_for(af.stop_everything(client, log, deadline=3, list_within=0.2), 10)
    finally:
        await client.aclose()
    assert _states(log)[("listing", "d1/r1")] == "not confirmed"
    assert fake.patched("dagRuns") == ["r1"] and fake.patched("dags") == ["d1"]


async def test_kill_step_pauses_the_dags_when_the_runs_cannot_be_listed():
    fake = FakeAirflow(runs={"d1": ["r1"], "d2": ["r9"]}, broken_dags=("d2",))
    _, log = await _stop(fake)
    assert log.verdict() == "failed"
    assert _states(log)[("listing", "active DAG runs")] == "failed"
    assert fake.patched("dags") == ["d1", "d2"]


async def test_a_task_still_running_at_the_deadline_is_not_confirmed():
    fake = FakeAirflow(runs={"d1": ["r1"]})
    fake.ti_stays_running.add("r1")
    _, log = await asyncio.wait_for(_stop(fake, deadline=2.0), 60)  # ends at its deadline, never hangs
    assert _states(log)[("task", "d1/r1/work try 1")] == "not confirmed"
    assert log.verdict() == "unknown"


async def test_a_50k_dag_listing_is_capped_and_the_step_ends_within_its_deadline():
    """A server answering total_entries = 50,000: the kill lists a capped page set under its own
    deadline, stops the active runs, and says which DAGs it could not pause."""
    fake = FakeAirflow(runs={"d1": ["r1"]})
    fake.n_extra_dags = 50_000
    _, log = await asyncio.wait_for(_stop(fake, deadline=8.0, list_within=2.0), 60)
    states = _states(log)
    assert states[("dag run", "d1/r1")] == "confirmed" and states[("dag", "d1")] == "confirmed"
    cut = next(o for o in log.objects if o.kind == "listing" and o.ident == "DAGs")
    assert cut.state == "not confirmed" and "of 50,001" in cut.reason
    listed = sum(1 for _, p, _ in fake.calls if p.endswith("/dags"))
    assert listed <= af.KILL_LIST_CAP // 50 + 1  # pages of 50, never 1,000 of them


async def test_the_airflow_dags_pane_says_showing_n_of_m(tmp_path, monkeypatch):
    """A server answering 50,000 DAGs: the pane shows a capped page set with "showing N of M"
    in its title, fetched in bounded time (the last runs of the first DAGs only)."""
    monkeypatch.setenv("OPSC_UNIT_USER", "admin")
    monkeypatch.setenv("OPSC_UNIT_PASS", SECRET)
    fake = FakeAirflow(runs={"d1": []})
    fake.n_extra_dags = 50_000
    ctx = _context(tmp_path)
    session = ctx.session("airflow")
    session.client._transport = httpx.MockTransport(fake.handler)
    try:
        source = session.sources()[0]
        items = await asyncio.wait_for(source.fetch(), 30)
    finally:
        await ctx.aclose()
        ctx.close()
    assert len(items) <= 2000 and source.warning == "showing 2,000 of 50,001"
    assert sum(1 for _, p, _ in fake.calls if p.endswith("/dagRuns")) <= 300


async def test_the_dags_listing_of_the_pane_says_showing_n_of_m():
    fake = FakeAirflow(runs={"d1": []})
    fake.n_extra_dags = 50_000
    client = fake.client()
    try:
        dags = await client.list_dags()
    finally:
        await client.aclose()
    assert len(dags) == 2000 and dags.total == 50_001 and dags.note == "showing 2,000 of 50,001"


# --- the log spool ------------------------------------------------------------------------------
async def test_spool_open_is_async_and_caches(tmp_path):
    fake = FakeAirflow()
    client = fake.client()
    try:
        ti = (await client.list_task_instances("d1", "r1"))[0]
        ti = type(ti).from_api({**ti.raw, "state": "success"})
        job = await AirflowLogSpool(client, tmp_path).open(ti)
        await asyncio.wait_for(job.task, 10)
        assert job.state == DONE and job.error is None
        assert job.path.read_text().endswith("INFO hello\n")
        cached = await AirflowLogSpool(client, tmp_path).open(ti)
        assert cached.state == DONE and cached.task is None and cached.size == job.size
    finally:
        await client.aclose()


async def test_spool_open_that_cannot_write_fails_cleanly(tmp_path):
    fake = FakeAirflow()
    client = fake.client()
    (tmp_path / "file").write_text("")
    try:
        ti = (await client.list_task_instances("d1", "r1"))[0]
        spool = AirflowLogSpool(client, tmp_path / "file")  # its "folder" is a file: mkdir fails
        with pytest.raises(OSError):
            await spool.open(ti)
        assert spool._jobs == {}
    finally:
        await client.aclose()


def test_topological_order_follows_the_dag_edges():
    from opsconsole.backends.airflow.models import topological_order

    tasks = [("a_report", []), ("extract", ["transform"]), ("load", ["a_report"]), ("transform", ["load"]),
             ("lonely", [])]
    assert topological_order(tasks) == ["extract", "lonely", "transform", "load", "a_report"]
    # a cycle (or an edge to an unknown task) never loses a task
    assert topological_order([("x", ["y"]), ("y", ["x"]), ("z", ["nope"])]) == ["z", "x", "y"]


def test_a_task_instance_without_a_state_says_no_status_not_queued():
    from opsconsole.backends.airflow.models import AirflowTaskInstance
    from opsconsole.backends.airflow.sources import AirflowTasksSource

    row = {"dag_id": "d", "dag_run_id": "r", "task_id": "t", "map_index": -1, "try_number": 0, "state": None}
    item = AirflowTasksSource._item(AirflowTaskInstance.from_api(row))
    assert item.cells["state"] == "no status"
    queued = AirflowTasksSource._item(AirflowTaskInstance.from_api({**row, "state": "queued"}))
    assert queued.cells["state"] == "" and queued.state.value == "queued"


def test_dag_ids_are_never_cut():
    from opsconsole.backends.airflow.sources import AirflowDagsSource

    dag = next(c for c in AirflowDagsSource.columns if c.key == "dag")
    assert dag.width is None  # the table sizes it to the longest id


async def test_triggering_a_paused_dag_warns_and_offers_the_unpause(tmp_path):
    from opsconsole.backends.airflow import PAUSE, TRIGGER, session_for
    from opsconsole.backends.airflow.client import AirflowClient, AirflowDag, AirflowSettings
    from opsconsole.backends.airflow.sources import AirflowDagsSource
    from opsconsole.domain.items import Item
    from opsconsole.domain.states import State

    client = AirflowClient(AirflowSettings(url="http://127.0.0.1:9", username="u", password="p"))
    session = session_for(client, tmp_path)
    source = AirflowDagsSource(session)
    item = Item(key="nightly", state=State.UNKNOWN, cells={})
    session.dags["nightly"] = AirflowDag("nightly", is_paused=True)
    call = await source.prepare(TRIGGER.id, item)
    assert "PAUSED" in call.title and "PAUSED" in call.body
    follow = await call.extra["then"]()
    assert follow.action is PAUSE and follow.title == "Unpause nightly?"
    session.dags["nightly"] = AirflowDag("nightly", is_paused=False)
    call = await source.prepare(TRIGGER.id, item)
    assert "PAUSED" not in call.title and "then" not in call.extra
    await client.aclose()


async def test_a_finished_log_is_rendered_while_it_downloads_and_a_broken_download_fails(tmp_path):
    """The download pump reads ahead of the renderer; every line arrives, in order, once; a
    connection lost mid-way ends the job FAILED (never a silently short "done")."""
    import json as _json
    from contextlib import asynccontextmanager

    from opsconsole.backends.airflow.client import AirflowTaskInstance
    from opsconsole.backends.airflow.logs import FAILED, AirflowLogStream
    from opsconsole.logs.spool import LogSpool

    lines = [_json.dumps({"timestamp": f"t{i}", "level": "info", "logger": "task.stdout",
                          "event": f"line {i:06d} " + "x" * 80}).encode() + b"\n" for i in range(40_000)]
    body = b"".join(lines)

    class Client:
        def __init__(self, fail_at=None):
            self.fail_at = fail_at

        @asynccontextmanager
        async def stream_log(self, ti, try_number):
            async def chunks():
                for n, start in enumerate(range(0, len(body), 7919)):  # odd sizes: lines cut across chunks
                    if self.fail_at is not None and n == self.fail_at:
                        raise ConnectionError("peer closed the connection")
                    yield body[start:start + 7919]

            yield "ndjson", chunks()

    ti = AirflowTaskInstance.from_api({"dag_id": "d", "dag_run_id": "r", "task_id": "t", "try_number": 1,
                                       "state": "success"})

    def stream(client):
        s = AirflowLogStream.__new__(AirflowLogStream)
        s.client, s.ti, s.try_number, s.running = client, ti, 1, False
        s.key, s.label = f"k{id(client)}", "t"
        return s

    job = await LogSpool(tmp_path).open(stream(Client()))
    await job.task
    text = job.path.read_text().splitlines()
    assert job.state == "done" and len(text) == 40_000
    assert text[0] == "t0 INFO task.stdout line 000000 " + "x" * 80 and text[-1].startswith("t39999 ")
    broken = await LogSpool(tmp_path / "b").open(stream(Client(fail_at=300)))
    await broken.task
    assert broken.state == FAILED and "peer closed" in (broken.error or "")


def test_a_part_airflow_sends_twice_is_spooled_once():
    from opsconsole.backends.airflow.logs import AirflowLogStream

    s = AirflowLogStream.__new__(AirflowLogStream)
    s._last_line = ""
    first = "::group::Log message source details\n2026-11-30T00:00:01.000001Z INFO task.stdout line 000001\n" \
            "2026-11-30T00:00:02.000002Z INFO task.stdout line 000002\n"
    assert s._fresh(first) == first
    again = "2026-11-30T00:00:01.000001Z INFO task.stdout line 000001\n" \
            "2026-11-30T00:00:02.000002Z INFO task.stdout line 000002\n" \
            "2026-11-30T00:00:03.000003Z INFO task.stdout line 000003\n"
    assert s._fresh(again) == "2026-11-30T00:00:03.000003Z INFO task.stdout line 000003\n"
    new = "2026-11-30T00:00:04.000004Z INFO task.stdout line 000004\n"
    assert s._fresh(new) == new  # later lines pass untouched
    assert s._fresh("") == ""
