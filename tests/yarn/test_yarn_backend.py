"""The YARN backend against a real ResourceManager + NodeManager running DistributedShell
applications: the applications pane, its drill-down, container logs (running and finished) and
the kill action through the action runner."""

from __future__ import annotations

import pytest
from yarn_helpers import last_tick, open_session, text_of, wait_for

from opsconsole.backends.yarn import KILL
from opsconsole.domain.actions import ActionUnavailable
from opsconsole.domain.states import State


async def test_the_pane_lists_applications_with_their_columns(yarn, sleeper, session):
    (source,) = session.sources()
    items = {i.key: i for i in await source.fetch()}
    item = items[sleeper]
    assert item.state is State.RUNNING
    cells = item.cells
    assert (cells["name"], cells["user"], cells["queue"], cells["state"], cells["final"]) == \
        ("ops-sleeper", yarn.app(sleeper)["user"], "root.default", "running", "")
    assert cells["progress"].endswith("%")
    assert cells["tracking"].endswith(f"/proxy/{sleeper}/")
    assert item.started_at is not None and item.ended_at is None  # ELAPSED ticks from the start
    assert source.warning is None


@pytest.mark.parametrize("table,shown", [
    ({"queues": ["default"]}, True), ({"queues": ["root.default"]}, True), ({"queues": ["batch"]}, False),
    ({"names": ["ops-*"]}, True), ({"names": ["spark-*"]}, False), ({"users": ["nobody"]}, False),
])
async def test_the_profile_filter_scopes_the_pane(yarn, sleeper, tmp_path, table, shown):
    s = open_session({"url": yarn.rm_url, **table}, tmp_path)
    try:
        keys = [i.key for i in await s.sources()[0].fetch()]
        assert (sleeper in keys) is shown
    finally:
        await s.aclose()


async def test_max_apps_caps_the_listing_and_says_so(yarn, sleeper, tmp_path):
    s = open_session({"url": yarn.rm_url, "max_apps": 1}, tmp_path)
    try:
        source = s.sources()[0]
        assert len(await source.fetch()) == 1
        assert source.warning and "showing 1 of" in source.warning
    finally:
        await s.aclose()


async def test_drill_down_attempts_containers_and_log_files(yarn, sleeper, session):
    (apps,) = session.sources()
    app_item = next(i for i in await apps.fetch() if i.key == sleeper)
    described = await apps.describe(app_item)
    assert described["id"] == sleeper and described["state"] == "RUNNING"

    attempts = apps.drill(app_item)
    (attempt,) = await attempts.fetch()
    suffix = sleeper.split("_", 1)[1]
    assert attempt.key == f"appattempt_{suffix}_000001" and attempt.state is State.RUNNING
    assert attempt.cells["container"] == f"container_{suffix}_01_000001"

    containers = attempts.drill(attempt)
    rows = await containers.fetch()
    assert [r.key for r in rows] == [f"container_{suffix}_01_000001", f"container_{suffix}_01_000002"]
    assert [r.cells["role"] for r in rows] == ["driver", ""]  # container 1: the AM (Spark's driver)
    assert all(r.state is State.RUNNING and r.cells["state"] == "running" for r in rows)
    assert rows[0].cells["mem"] == "256M" and rows[1].cells["mem"] == "128M"

    files = containers.drill(rows[1])
    names = [f.key for f in await files.fetch()]
    assert names[:2] == ["stdout", "stderr"] and "launch_container.sh" in names
    am_files = [f.key for f in await containers.drill(rows[0]).fetch()]
    assert "AppMaster.stderr" in am_files


async def test_a_running_containers_log_is_followed(yarn, sleeper, session):
    (apps,) = session.sources()
    app_item = next(i for i in await apps.fetch() if i.key == sleeper)
    attempts = apps.drill(app_item)
    containers = attempts.drill((await attempts.fetch())[0])
    shell = (await containers.fetch())[1]
    ref = await containers.open_log(shell)  # the container's stdout
    assert ref.label.endswith("_000002 stdout")
    first = await wait_for(lambda: last_tick(text_of(ref)), "ticks in the spool")
    assert ref.job.state == "following"
    later = await wait_for(lambda: (t := last_tick(text_of(ref))) >= first + 2 and t, "the log growing", timeout=30)
    text = text_of(ref)
    ticks = [int(line.split()[1]) for line in text.splitlines() if line.startswith("tick ")]
    assert ticks == list(range(ticks[0], later + 1))  # followed without a gap or a repeat
    assert "LogType:" not in text and "End of LogType" not in text  # the NM's framing is not shown
    # stderr of the same container, from its file row
    files = containers.drill(shell)
    stderr = next(f for f in await files.fetch() if f.key == "stderr")
    err_ref = await files.open_log(stderr)
    await wait_for(lambda: "warn tick" in text_of(err_ref), "stderr in the spool")


async def test_the_app_rows_log_is_the_drivers(yarn, sleeper, session):
    (apps,) = session.sources()
    app_item = next(i for i in await apps.fetch() if i.key == sleeper)
    ref = await apps.open_log(app_item)
    assert f"container_{sleeper.split('_', 1)[1]}_01_000001" in ref.label
    await wait_for(lambda: "distributedshell" in text_of(ref).lower(), "the AM's log")


async def test_a_finished_containers_log_is_read_whole(yarn, session):
    app_id = yarn.submit("ops-short", 4, "default", running=False)
    yarn.wait(lambda: yarn.app(app_id).get("state") == "FINISHED", "ops-short finished", timeout=180)
    (apps,) = session.sources()
    item = next(i for i in await apps.fetch() if i.key == app_id)
    assert item.state is State.SUCCESS and item.cells["final"] == "succeeded" and item.ended_at is not None
    attempts = apps.drill(item)
    containers = attempts.drill((await attempts.fetch())[0])
    rows = await containers.fetch()  # the RM forgot them: the AM's and those its NM has logs of
    suffix = app_id.split("_", 1)[1]
    assert [r.key for r in rows] == [f"container_{suffix}_01_000001", f"container_{suffix}_01_000002"]
    ref = await containers.open_log(rows[1])
    await wait_for(lambda: ref.job.state == "done", "the finished log spooled whole", timeout=30)
    text = text_of(ref)
    assert text.splitlines() == ["started", "tick 1", "tick 2", "tick 3", "tick 4", "finished"]


async def test_kill_through_the_action_path(yarn, tmp_path):
    from opsconsole.config.settings import parse_config
    from opsconsole.services.actions import ActionRunner
    from opsconsole.services.context import Context

    victim = yarn.submit("ops-victim", 600, "default")
    text = f'[profiles.t.yarn]\nurl = "{yarn.rm_url}"\n\n[profiles.ro]\nreadonly = true\n[profiles.ro.yarn]\nurl = "{yarn.rm_url}"\n'
    ctx = Context.create(parse_config(text, str(tmp_path / "config.toml")), "t", data_dir=tmp_path / "data")
    try:
        source = ctx.session("yarn").sources()[0]
        item = next(i for i in await source.fetch() if i.key == victim)
        call = await source.prepare(KILL.id, item)
        assert call.objects == [victim] and "ops-victim" in call.body

        async def no(_call):
            return False

        async def yes(_call):
            return True

        declined = await ActionRunner(ctx, "tester").run(call, confirm=no)
        assert declined.outcome == "cancelled" and yarn.app(victim)["state"] == "RUNNING"
        done = await ActionRunner(ctx, "tester").run(call, confirm=yes)
        assert done.outcome == "ok", done.detail
        assert "KILLED" in done.detail and yarn.app(victim)["state"] == "KILLED"
        audit = ctx.ledger.list_action_audit()
        assert [(r["action"], r["outcome"]) for r in audit] == [("yarn.kill", "cancelled"), ("yarn.kill", "ok")]
        with pytest.raises(ActionUnavailable, match="already ended"):
            await source.prepare(KILL.id, item)
    finally:
        await ctx.session("yarn").aclose()
        ctx.close()


async def test_a_read_only_profile_refuses_the_kill(yarn, sleeper, tmp_path):
    from opsconsole.config.settings import parse_config
    from opsconsole.services.actions import ActionRunner
    from opsconsole.services.context import Context

    text = f'[profiles.ro]\nreadonly = true\n[profiles.ro.yarn]\nurl = "{yarn.rm_url}"\n'
    ctx = Context.create(parse_config(text, str(tmp_path / "config.toml")), "ro", data_dir=tmp_path / "data")
    try:
        source = ctx.session("yarn").sources()[0]
        item = next(i for i in await source.fetch() if i.key == sleeper)

        async def yes(_call):
            return True

        outcome = await ActionRunner(ctx, "tester").run(await source.prepare(KILL.id, item), confirm=yes)
        assert outcome.outcome == "refused" and yarn.app(sleeper)["state"] == "RUNNING"
    finally:
        await ctx.session("yarn").aclose()
        ctx.close()


async def test_kill_needs_an_application(session, yarn):
    (apps,) = session.sources()
    with pytest.raises(ActionUnavailable, match="select an application"):
        await apps.prepare(KILL.id, None)
