"""The `hosts` launch target on a real sshd: a run started detached (setsid+nohup, or tmux) keeps
running when opsconsole exits, a new opsconsole follows it by sync() and copies its results
back; the kill step stops it on its host, confirmed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from opsconsole.backends.ssh.target import RemoteRun
from opsconsole.config.presets import Preset
from opsconsole.config.settings import parse_config
from opsconsole.domain.kill import CONFIRMED, StepLog
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State
from opsconsole.services.context import Context


def _preset(host: str, **table) -> Preset:
    return Preset(name="remote-exp", path=Path("/x/remote-exp.toml"), kind="remote", target="hosts",
                  tables={"hosts": {"host": host, **table}})


def _spec(script: str) -> RunSpec:
    return RunSpec(kind="remote", command=["sh", "-c", script], parameters={"seed": 1}, preset="remote-exp",
                   target="ssh:vm2")


async def _settled(ctx: Context, run_id: int, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    session = ctx.session("hosts")
    while True:
        problems = await session.sync()
        run = ctx.ledger.get_run(run_id)
        if run.state.final:
            return run, problems
        assert time.monotonic() < deadline, f"run {run_id} still {run.state} ({problems})"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("detach", ["setsid", "tmux"])
async def test_an_ssh_launch_survives_an_opsconsole_restart(peers, config_text, tmp_path, detach):
    config = parse_config(config_text(), str(tmp_path / "config.toml"))
    data = tmp_path / "data"
    marker = tmp_path / f"go-{detach}"
    script = (f"echo started $OPSCONSOLE_RUN_ID; while [ ! -e {marker} ]; do sleep 0.1; done; "
              'echo 0.93 > "$OPSCONSOLE_RESULT_DIR/accuracy.txt"; echo finished; exit 3')
    ctx = Context.create(config, "lab", data_dir=data)
    try:
        target = ctx.target("hosts")
        (record,) = await target.launch(_preset("vm2", detach=detach), [_spec(script)])
        assert record.state is State.RUNNING and record.target == "ssh:vm2"
        remote = RemoteRun.parse(record.external_id)
        assert remote.host == "vm2" and remote.pid and f"/run-{record.id:06d}-" in remote.dir
        assert remote.dir.startswith(str(peers["sshds"][1].dir / "runs"))  # the host's workdir
        assert record.pid is None  # a remote pid never goes in the ledger's local pid column
        assert await ctx.session("hosts").sync() == [] and ctx.ledger.get_run(record.id).state is State.RUNNING
        # the host's runs level lists it; its log is read on the host while it runs
        from opsconsole.backends.ssh.sources import HostRunsSource
        from opsconsole.logs.ranged import RangedSource

        session = ctx.session("hosts")
        runs = HostRunsSource(session, session.settings.host("vm2"))
        (item,) = [it for it in await runs.fetch() if it.key == str(record.id)]
        assert item.state is State.RUNNING and item.cells["dir"] == remote.dir
        source = RangedSource((await runs.open_log(item)).reader)
        try:
            deadline = time.monotonic() + 20
            while b"started" not in await asyncio.to_thread(source.read, 0, 1000):
                assert time.monotonic() < deadline, "out.log never showed the first line"
                await asyncio.sleep(0.2)
                await asyncio.to_thread(source.check)
        finally:
            await asyncio.to_thread(source.close)
    finally:
        await ctx.aclose()
        ctx.close()  # opsconsole exits; the run goes on on its host

    marker.touch()  # the experiment finishes while no opsconsole watches it
    ctx2 = Context.create(config, "lab", data_dir=data)
    try:
        run, problems = await _settled(ctx2, record.id)
        assert problems == []
        assert run.state is State.FAILED and run.exit_code == 3
        local = Path(run.result_dir)
        assert (local / "results" / "accuracy.txt").read_text().strip() == "0.93"
        assert (local / "out.log").read_text().splitlines() == [f"started {record.id}", "finished"]
        assert run.log_path == str(local / "out.log") and run.ended_at is not None
    finally:
        await ctx2.aclose()
        ctx2.close()


async def test_a_halted_profile_refuses_ssh_launches(peers, config_text, tmp_path):
    from opsconsole.backends.base import LaunchRefused

    config = parse_config(config_text(), str(tmp_path / "config.toml"))
    ctx = Context.create(config, "lab", data_dir=tmp_path / "data")
    try:
        ctx.ledger.set_halt("kill fired", "test")
        with pytest.raises(LaunchRefused, match="HALTED"):
            await ctx.target("hosts").launch(_preset("vm2"), [_spec("true")])
        assert ctx.ledger.list_runs() == []  # nothing recorded, nothing started
        ctx.ledger.release_halt("test")
        with pytest.raises(LaunchRefused, match="not one of"):
            await ctx.target("hosts").launch(_preset("nosuch"), [_spec("true")])
    finally:
        await ctx.aclose()
        ctx.close()


async def test_the_kill_step_stops_ssh_runs_confirmed_and_sync_records_them_stopped(peers, config_text, tmp_path):
    config = parse_config(config_text(), str(tmp_path / "config.toml"))
    ctx = Context.create(config, "lab", data_dir=tmp_path / "data")
    try:
        target = ctx.target("hosts")
        records = await target.launch(_preset("vm2"), [_spec("trap '' HUP; sleep 300 & wait"), _spec("sleep 300")])
        session = ctx.session("hosts")
        step = next(s for s in session.kill_steps() if s.name == "stop runs launched over SSH")
        assert step.phase == "stop"
        assert sorted(t.ident for t in await step.targets()) == sorted(
            f"run {r.id} ({r.external_id})" for r in records)
        log = StepLog()
        await step.action(log)
        assert len(log.objects) == 2 and all(o.state == CONFIRMED for o in log.objects), log.objects
        for r in records:  # the kill step never touches the ledger: the next sync settles them
            assert ctx.ledger.get_run(r.id).state is State.RUNNING
        for r in records:
            run, _ = await _settled(ctx, r.id)
            assert run.state is State.STOPPED and "stopped" in (run.error or "")
            remote = RemoteRun.parse(r.external_id)
            alive = await session.pool.run("vm2", f"kill -0 {remote.pid} 2>/dev/null && echo alive || echo gone")
            assert alive.stdout.strip() == "gone"
    finally:
        await ctx.aclose()
        ctx.close()


async def test_a_run_dir_is_never_shared(sshd, make_session, tmp_path):
    from ssh_helpers import host_table
    from opsconsole.backends.ssh.target import run_dir, start_script

    session = make_session(host_table(sshd, "vm1"))
    path = run_dir(str(tmp_path / "runs"), 1, token="abcd")
    assert path == f"{tmp_path}/runs/run-000001-abcd" and run_dir("w", 1) != run_dir("w", 1)
    first = await session.pool.run("vm1", "sh -s", stdin=start_script(_spec("sleep 0.1"), 1, path, "setsid"))
    assert first.ok and first.stdout.strip().isdigit()
    again = await session.pool.run("vm1", "sh -s", stdin=start_script(_spec("echo clobbered"), 1, path, "setsid"))
    assert not again.ok  # another opsconsole's run 1 with the same dir: refused, nothing overwritten
    assert (Path(path) / "command.sh").read_text().strip() == "sh -c 'sleep 0.1'"
