"""The hosts backend against real OpenSSH sshd on 127.0.0.1 (three of them), with supervisord as
the service manager and a real prometheus_client exporter: the Hosts pane, a host down and
back, timeouts, known_hosts, services in order, health rules, remote logs (SFTP ranges on a
1 GiB file, rotation, search on the host, a followed command), run on all, launches that
outlive opsconsole, the kill steps and `opsconsole tail ssh://`."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from ssh_helpers import BIG_LAST, host_table, trading_host
from opsconsole.backends.ssh import GREP, RUN_ALL, START, START_ALL, STOP, STOP_ALL, RESTART
from opsconsole.backends.ssh.pool import HostDown, RemoteTimeout
from opsconsole.backends.ssh.sources import (HealthSource, HostSectionsSource, HostsSource, LogFilesSource,
                                             ServicesSource, ranged_log, run_on_all)
from opsconsole.domain.kill import CONFIRMED, StepLog
from opsconsole.domain.states import State


async def until(predicate, what: str, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate() if asyncio.iscoroutinefunction(predicate) else predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


# --- hosts, reachability, connections ---------------------------------------------------------
async def test_hosts_pane_shows_each_host_with_load_disk_and_services(peers, make_session):
    s1, s2, s3 = peers["sshds"]
    for s in (s1, s2, s3):
        s.start()
    session = make_session(trading_host(peers), host_table(s2, "vm2"), host_table(s3, "vm3"))
    rows = {it.key: it for it in await HostsSource(session).fetch()}
    assert list(rows) == ["trading-1", "vm2", "vm3"]
    for it in rows.values():
        assert it.state is State.RUNNING and it.cells["state"] == "up" and re.fullmatch(r"\d+ms", it.cells["reach"])
        assert len(it.cells["load"].split()) == 3 and re.fullmatch(r"\d+% · .* free", it.cells["disk"])
    assert rows["trading-1"].cells["services"].endswith("/4")
    # one connection per host, reused by the next poll
    conns = {name: session.pool.conn(name)._conn for name in rows}
    await HostsSource(session).fetch()
    assert all(session.pool.conn(n)._conn is c and c is not None for n, c in conns.items())


async def test_host_down_is_a_stale_row_and_comes_back(peers, make_session):
    sshd = peers["sshds"][1]
    sshd.start()
    session = make_session(host_table(sshd, "vm2", connect_timeout=2.0))
    source = HostsSource(session)
    (up,) = await source.fetch()
    assert up.cells["state"] == "up"
    sshd.stop()
    try:
        (down,) = await source.fetch()  # bounded by the connect timeout: a row, never a frozen pane
        assert down.state is State.UNKNOWN and down.cells["state"] == "down"
        assert down.cells["reach"].startswith("DOWN")
        assert down.cells["load"].endswith("(stale)") and down.cells["disk"].endswith("(stale)")
        assert down.detail["error"]
        # during the backoff the host is not even tried: the row comes back without an attempt
        conn = session.pool.conn("vm2")
        failures = conn.failures
        conn.next_try = time.monotonic() + 60  # a later, longer backoff (the first is 1 s: gone under load)
        (again,) = await source.fetch()
        assert again.cells["state"] == "down" and conn.failures == failures
        with pytest.raises(HostDown, match="retry in"):
            await session.pool.run("vm2", "true")
        conn.next_try = time.monotonic()  # the backoff over
    finally:
        sshd.start()

    async def back():
        (row,) = await source.fetch()
        return row.cells["state"] == "up" and row
    row = await until(back, "vm2 back up", timeout=90, step=0.5)
    assert "(stale)" not in row.cells["load"] and conn.failures == 0


async def test_every_remote_command_has_a_timeout(sshd, make_session):
    session = make_session(host_table(sshd, "vm1"))
    with pytest.raises(RemoteTimeout, match="timed out|no answer"):
        await session.pool.run("vm1", "sleep 30", timeout=1.0)
    assert (await session.pool.run("vm1", "echo still-usable")).stdout.strip() == "still-usable"


async def test_known_hosts_is_enforced(sshd, make_session, tmp_path):
    from sshd_peer import make_keys

    other = make_keys(tmp_path / "other")
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other.host_pub}\n")
    session = make_session(host_table(sshd, "vm1", known_hosts=str(wrong)))
    with pytest.raises(HostDown, match="host key not trusted|Host key"):
        await session.pool.run("vm1", "true")
    (row,) = await HostsSource(session).fetch()
    assert row.cells["state"] == "down" and "key" in row.detail["error"].lower()


# --- services through supervisord --------------------------------------------------------------
async def _drill_services(session) -> ServicesSource:
    hosts = HostsSource(session)
    (host,) = await hosts.fetch()
    sections = hosts.drill(host)
    assert isinstance(sections, HostSectionsSource)
    rows = {it.key: it for it in await sections.fetch()}
    services = sections.drill(rows["services"])
    assert isinstance(services, ServicesSource)
    return services


async def test_services_start_all_in_order_and_stop_all_in_reverse(peers, make_session):
    sup = peers["supervisor"]
    session = make_session(trading_host(peers))
    services = await _drill_services(session)
    sup.ctl("stop", "all")
    items = await services.fetch()
    assert [it.key for it in items] == list(sup.services)
    assert all(it.state is State.STOPPED for it in items)

    call = await services.prepare(START_ALL.id, items[0])
    assert call.action.policy == "launch"  # refused while HALTED, like every launch
    assert call.objects == [f"trading-1/{s}" for s in sup.services]
    detail = await call.run(None)
    assert [part.split(" running")[0] for part in detail.removeprefix("trading-1: ").split("; ")] == list(sup.services)
    items = await services.fetch()
    assert all(it.state is State.RUNNING and it.cells["pid"] for it in items)
    starts = [services.statuses[s].since_ts for s in sup.services]
    assert starts == sorted(starts)  # each started after the previous one was running
    assert all(it.cells["since"].endswith("UTC") for it in items)

    # one service: stop, start, restart (each waits for the state)
    risk = next(it for it in items if it.key == "trading-risk-manager")
    old_pid = risk.cells["pid"]
    assert "now STOPPED" in await (await services.prepare(STOP.id, risk)).run(None)
    stopped = {it.key: it for it in await services.fetch()}["trading-risk-manager"]
    assert stopped.state is State.STOPPED and stopped.cells["exit"] == "0" and not stopped.cells["pid"]
    assert "now RUNNING" in await (await services.prepare(START.id, stopped)).run(None)
    assert "now RUNNING" in await (await services.prepare(RESTART.id, stopped)).run(None)
    new_pid = {it.key: it for it in await services.fetch()}["trading-risk-manager"].cells["pid"]
    assert new_pid and new_pid != old_pid

    call = await services.prepare(STOP_ALL.id, None)
    assert call.objects == [f"trading-1/{s}" for s in reversed(sup.services)]
    detail = await call.run(None)
    assert [p.split(" ")[0] for p in detail.removeprefix("trading-1: ").split("; ")] == list(reversed(sup.services))
    assert all(it.state is State.STOPPED for it in await services.fetch())


async def test_a_service_log_opens_by_byte_range(peers, make_session):
    sup = peers["supervisor"]
    sup.ctl("start", "trading-market-data")
    session = make_session(trading_host(peers))
    services = await _drill_services(session)
    item = next(it for it in await services.fetch() if it.key == "trading-market-data")
    ref = await services.open_log(item)
    from opsconsole.logs.ref import RangedLog, open_ref

    assert isinstance(ref, RangedLog) and ref.path.endswith("trading-market-data.out")
    source = await asyncio.to_thread(open_ref, ref)
    try:
        assert await asyncio.to_thread(source.size) >= 0
    finally:
        await asyncio.to_thread(source.close)
    sup.ctl("stop", "trading-market-data")


async def test_a_missing_supervisor_socket_is_named(peers, make_session):
    session = make_session(trading_host(peers, supervisor_socket="/nonexistent/supervisor.sock"))
    services = await _drill_services(session)
    with pytest.raises(Exception, match="supervisor.sock"):
        await services.fetch()


# --- health ------------------------------------------------------------------------------------
async def test_health_rules_against_the_exporter_through_ssh(peers, make_session):
    sup = peers["supervisor"]
    env_file = sup.dir / "metrics.env"
    env_file.write_text("BREAKER=0\nWS=1\n")
    sup.ctl("start", "trading-risk-manager")
    try:
        session = make_session(trading_host(peers))
        health = HealthSource(session, session.settings.hosts[0])

        async def all_ok():
            try:
                rows = await health.fetch()
            except Exception:  # noqa: BLE001 - the exporter is still starting
                return None
            return rows if rows and all(r.state is State.SUCCESS for r in rows) else None
        rows = await until(all_ok, "exporter up and every rule ok")
        values = {r.key: r.cells["value"] for r in rows}
        assert values["risk_circuit_breaker_active == 0"] == "0"
        assert values['market_data_websocket_connected{feed="alpaca"} == 1'] == "1"
        assert values["latency < 2s"].endswith("ms")

        env_file.write_text("BREAKER=1\nWS=0\n")  # the breaker trips, the feed drops

        async def failing():
            rows = {r.key: r for r in await health.fetch()}
            br = rows["risk_circuit_breaker_active == 0"]
            return rows if br.state is State.FAILED else None
        rows = await until(failing, "breaker rule failing")
        assert rows["risk_circuit_breaker_active == 0"].cells == {
            "rule": "risk_circuit_breaker_active == 0", "state": "failing", "value": "1"}
        assert rows['market_data_websocket_connected{feed="alpaca"} == 1'].cells["value"] == "0"

        # the same exporter read directly over HTTP by the health backend
        from opsconsole.backends.health import BACKEND as HEALTH, EndpointsSource
        from opsconsole.backends.base import SessionEnv
        from opsconsole.domain.models import utcnow

        endpoints = HEALTH.settings([{"name": "risk", "url": f"http://127.0.0.1:{peers['metrics_port']}/metrics",
                                      "rules": ["risk_circuit_breaker_active == 0", "latency < 5s"]},
                                     {"name": "nothing", "url": "http://127.0.0.1:9/metrics", "timeout": 1.0}])
        hs = HEALTH.open(SessionEnv("lab", "lab", False, endpoints, lambda: None, Path("/tmp"), utcnow))
        try:
            endpoints_source = EndpointsSource(hs)
            items = {it.key: it for it in await endpoints_source.fetch()}
            assert items["risk"].state is State.FAILED and items["risk"].cells["rules"] == "1/2"
            assert "risk_circuit_breaker_active == 0 (1)" in items["risk"].cells["failing"]
            assert items["nothing"].cells["state"] == "down"
            rules = {r.key: r for r in await endpoints_source.drill(items["risk"]).fetch()}
            assert rules["risk_circuit_breaker_active == 0"].state is State.FAILED
            assert rules["latency < 5s"].state is State.SUCCESS and rules["latency < 5s"].cells["value"].endswith("ms")
        finally:
            await hs.aclose()
    finally:
        env_file.write_text("BREAKER=0\nWS=1\n")
        sup.ctl("stop", "trading-risk-manager")


# --- remote logs -------------------------------------------------------------------------------
async def test_a_1gb_remote_log_opens_at_its_tail(peers, make_session, big_log):
    session = make_session(host_table(peers["sshds"][0], "vm1", logs=[str(big_log.parent / "*.log")]))
    files = LogFilesSource(session, session.settings.hosts[0])
    (item,) = await files.fetch()
    assert item.key == str(big_log) and item.cells["size"] == "1.0 GB"
    ref = await files.open_log(item)
    from opsconsole.logs.ranged import RangedSource

    source = RangedSource(ref.reader)
    try:
        size = await asyncio.to_thread(source.size)
        assert size == 1 << 30
        tail = await asyncio.to_thread(source.read, size - 65536, 65536)
        assert tail.endswith(BIG_LAST)
        stats = source.stats
        assert stats.bytes_read < 1 << 20  # the tail: a block or two, not the file
    finally:
        await asyncio.to_thread(source.close)


async def test_the_log_viewer_opens_a_1gb_remote_log_at_its_tail(peers, make_session, big_log):
    """The whole path: the viewer (the Textual LogView) on an SFTP ranged log."""
    from textual.app import App

    from opsconsole.ui.widgets.log_view import LogView

    session = make_session(host_table(peers["sshds"][0], "vm1"))
    ref = ranged_log(session, session.settings.hosts[0], str(big_log))

    class One(App):
        def compose(self):
            yield LogView(ref)

    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        deadline = time.monotonic() + 30
        while not (view.visible_lines() and "the very last line" in "\n".join(
                view.render_line(y).text for y in range(view.scrollable_content_region.height))):
            assert time.monotonic() < deadline, "the last line never painted"
            await pilot.pause(0.05)
        assert ref.reader.bytes_read < 1 << 20


async def test_growth_and_rotation_of_a_remote_file(sshd, make_session, tmp_path):
    from opsconsole.logs.ranged import RangedSource
    from opsconsole.logs.source import Change

    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    session = make_session(host_table(sshd, "vm1"))
    source = RangedSource(ranged_log(session, session.settings.hosts[0], str(log)).reader, check_every=0)
    try:
        assert await asyncio.to_thread(source.read, 0, 100) == b"one\ntwo\n"
        with open(log, "a") as f:
            f.write("three\n")
        check = await asyncio.to_thread(source.check)
        assert check.change is Change.GREW and check.size == 14
        assert (await asyncio.to_thread(source.read, 8, 100)) == b"three\n"
        os.rename(log, tmp_path / "app.log.1")  # logrotate: rename + create, the new one bigger
        log.write_text("new file line 1\nnew file line 2\nnew file line 3\n")
        check = await asyncio.to_thread(source.check)
        assert check.change is Change.ROTATED
        await asyncio.to_thread(source.reopen)
        assert (await asyncio.to_thread(source.read, 0, 16)) == b"new file line 1\n"
        log.unlink()
        assert (await asyncio.to_thread(source.check)).change is Change.GONE
    finally:
        await asyncio.to_thread(source.close)


async def test_search_runs_on_the_host_and_streams_only_matches(peers, make_session, big_log):
    session = make_session(host_table(peers["sshds"][0], "vm1", logs=[str(big_log)]))
    files = LogFilesSource(session, session.settings.hosts[0])
    (item,) = await files.fetch()
    call = await files.prepare(GREP.id, item)
    assert call.ask_json is not None and call.action.policy == "view"
    detail = await call.run({"pattern": "very last line|nothing-like-this", "ignore_case": False})
    assert "searching" in detail
    job = call.open_log.job
    await until(lambda: job.state.value in ("done", "failed"), "search finished", timeout=120)
    assert job.state.value == "done", job.error
    text = Path(job.path).read_text()
    (line,) = text.splitlines()  # one match: nothing else of the 1 GiB crossed the connection
    number, _, rest = line.partition(":")
    assert number.isdigit() and rest + "\n" == BIG_LAST.decode()
    await session.spool.close()


async def test_a_followed_command_log_streams_new_lines(sshd, make_session, tmp_path):
    """journalctl -u UNIT -f works the same way (no systemd here): a command template follows."""
    from opsconsole.logs.ref import StreamLog

    log = tmp_path / "svc.log"
    log.write_text("first\n")
    session = make_session(host_table(sshd, "vm1", manager="command", services=["svc"], commands={
        "status": f"test -e {tmp_path}/{{service}}.log", "start": "true", "stop": "true",
        "logs": f"tail -n +1 -F {tmp_path}/{{service}}.log"}))
    services = ServicesSource(session, session.settings.hosts[0])
    (item,) = await services.fetch()
    assert item.state is State.RUNNING  # status template exited 0
    ref = await services.open_log(item)
    assert isinstance(ref, StreamLog)
    path = Path(ref.job.path)
    await until(lambda: path.exists() and "first" in path.read_text(), "first line spooled")
    with open(log, "a") as f:
        f.write("second\n")
    await until(lambda: "second" in path.read_text(), "appended line followed")
    await session.spool.close()


# --- run on all --------------------------------------------------------------------------------
async def test_run_on_all_hosts_with_output_and_exit_codes(peers, make_session, data_dir):
    s1, s2, s3 = peers["sshds"]
    for s in (s1, s2, s3):
        s.start()
    session = make_session(host_table(s1, "vm1"), host_table(s2, "vm2"), host_table(s3, "vm3"))
    source = HostsSource(session)
    call = await source.prepare(RUN_ALL.id, None)
    assert await call.ask_json() == {"command": "uptime", "hosts": ["vm1", "vm2", "vm3"]}
    command = f'echo "hello from port ${{SSH_CONNECTION##* }}"; [ "${{SSH_CONNECTION##* }}" != {s3.port} ]'
    with pytest.raises(RuntimeError, match=r"2 ok, failed: vm3 \(1\)"):
        await call.run({"command": command})
    log = Path(call.open_log.path)
    text = log.read_text()
    for name, s in (("vm1", s1), ("vm2", s2), ("vm3", s3)):
        assert f"=== {name} (127.0.0.1) exit {1 if name == 'vm3' else 0} in " in text
        assert f"hello from port {s.port}" in text
    assert text.rstrip().endswith("=== done: 3 hosts ===")

    # bounded concurrency: one at a time, the runs do not overlap
    out = data_dir / "serial.log"
    await run_on_all(session, list(session.settings.hosts), "date +%s.%N; sleep 0.3; date +%s.%N", out, concurrency=1)
    spans = []
    for block in out.read_text().split("=== ")[1:-1]:
        stamps = [float(x) for x in block.splitlines()[1:3]]
        spans.append(stamps)
    spans.sort()
    assert len(spans) == 3 and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


# --- `opsconsole tail ssh://host/path` ---------------------------------------------------------
async def test_tail_url_opens_the_remote_file_through_the_profile(peers, config_text, tmp_path, big_log):
    from opsconsole.config.settings import parse_config
    from opsconsole.logs.ranged import RangedSource
    from opsconsole.logs.ref import RangedLog
    from opsconsole.services.urls import open_url

    config = parse_config(config_text(), str(tmp_path / "config.toml"))
    ref = open_url(f"ssh://vm2{big_log}", config.profile("lab"))  # vm2: key, port and known_hosts of the profile
    assert isinstance(ref, RangedLog)
    source = RangedSource(ref.reader)
    try:
        size = await asyncio.to_thread(source.size)
        assert (await asyncio.to_thread(source.read, size - len(BIG_LAST), 1000)) == BIG_LAST
    finally:
        await asyncio.to_thread(source.close)
    # a host unknown to the profile uses ~/.ssh/config, the agent and ~/.ssh/known_hosts: not trusted here
    ref = open_url(f"ssh://127.0.0.1:{peers['sshds'][0].port}/etc/hostname", None)
    with pytest.raises(Exception, match="host key|Host key|not trusted|Permission|auth|key"):
        await asyncio.to_thread(ref.reader.size)
    await asyncio.to_thread(ref.reader.close)


# --- kill steps --------------------------------------------------------------------------------
async def test_kill_step_stops_services_in_reverse_order_confirmed(peers, make_session):
    sup = peers["supervisor"]
    sup.ctl("start", "all")
    session = make_session(trading_host(peers))
    steps = session.kill_steps()
    step = next(s for s in steps if s.name == "stop services on trading-1")
    assert step.phase == "stop" and step.enabled
    targets = await step.targets()
    assert [t.ident for t in targets] == [f"trading-1/{s}" for s in reversed(sup.services)]
    log = StepLog()
    detail = await step.action(log)
    assert [o.ident for o in log.objects] == [f"trading-1/{s}" for s in reversed(sup.services)]
    assert all(o.state == CONFIRMED for o in log.objects) and log.verdict() is None
    assert "4 confirmed" in detail
    assert "RUNNING" not in sup.ctl("status")


async def test_a_followed_stream_resumes_after_the_last_line_seen(sshd, make_session, tmp_path):
    """After a lost connection (the command ended) the stream re-reads the last lines and drops
    those already shown; when the last line seen is gone, it says lines may be missing."""
    from opsconsole.backends.ssh.logs import CommandStream

    f = tmp_path / "j.log"
    f.write_text("a 1\nb 2\nc 3\n")
    session = make_session(host_table(sshd, "vm1"))
    stream = CommandStream(session.pool, "vm1", f"cat {f}", "j", follow=True)

    async def read(cursor):
        got, last = b"", cursor
        async for chunk in stream.read(cursor):
            got += chunk.data
            last = chunk.cursor if chunk.cursor is not None else last
        return got, last

    got, cursor = await read(None)
    assert got == b"a 1\nb 2\nc 3\n" and cursor == b"c 3\n"
    f.write_text("a 1\nb 2\nc 3\nd 4\ne 5\n")
    got, cursor = await read(cursor)
    assert got == b"d 4\ne 5\n" and cursor == b"e 5\n"
    f.write_text("".join(f"new {i}\n" for i in range(1200)))  # rotated away: e 5 is not there any more
    got, _ = await read(cursor)
    assert got.startswith(b"[opsconsole: reconnected; lines may be missing here]\n") and got.endswith(b"new 1199\n")


async def test_run_on_all_output_is_capped_per_host(sshd, make_session):
    session = make_session(host_table(sshd, "vm1"))
    res = await session.pool.call("vm1", lambda c: c.run_capped("echo out; echo err >&2; exit 4", 1000))
    assert res.exit_status == 4 and "out\n" in res.stdout and "err\n" in res.stdout
    res = await session.pool.call("vm1", lambda c: c.run_capped("yes opsconsole", 1000, timeout=10))
    assert res.exit_status is None and res.stdout.startswith("opsconsole\n")
    assert res.stdout.endswith("[opsconsole: output cut at 1000 bytes; the command was ended]\n")
    assert (await session.pool.run("vm1", "echo fine")).stdout == "fine\n"  # the connection is still good


async def test_start_all_stops_at_the_first_failure_and_says_what_started(sshd, make_session, tmp_path):
    session = make_session(host_table(sshd, "vm1", manager="command", services=["a", "b", "c"], state_timeout=5.0,
                                      commands={"status": f"test -e {tmp_path}/{{service}}.on",
                                                "start": f"test {{service}} != b && touch {tmp_path}/{{service}}.on",
                                                "stop": f"rm -f {tmp_path}/{{service}}.on"}))
    services = ServicesSource(session, session.settings.hosts[0])
    call = await services.prepare(START_ALL.id, None)
    with pytest.raises(Exception, match=r"^a running \(pid \?\); stopped at b: .*start b: exit 1"):
        await call.run(None)
    states = {it.key: it.state for it in await services.fetch()}
    assert states == {"a": State.RUNNING, "b": State.STOPPED, "c": State.STOPPED}  # c never tried


async def test_systemd_manager_over_ssh_on_recorded_systemctl_output(sshd, make_session, tmp_path):
    """The systemd manager's commands over a real SSH connection, answered by a stand-in
    `systemctl` that replays real captured `systemctl show` output (no systemd on the test host)."""
    data = Path(__file__).parent / "data"
    calls = tmp_path / "calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f"""#!/bin/sh
echo "$*" >> {calls}
case "$1" in
  show) cat {data / 'systemctl_show_tengine.txt'}; echo; cat {data / 'systemctl_show_redis_failed.txt'} ;;
  start|stop|restart) exit 0 ;;
  *) exit 1 ;;
esac
""")
    fake.chmod(0o755)
    session = make_session(host_table(sshd, "vm1", manager="systemd", systemctl=str(fake),
                                      services=["tengine.service", "redis.service"]))
    services = ServicesSource(session, session.settings.hosts[0])
    items = {it.key: it for it in await services.fetch()}
    assert items["tengine.service"].state is State.RUNNING and items["tengine.service"].cells["pid"] == 25548
    assert items["redis.service"].state is State.FAILED and items["redis.service"].cells["exit"] == "0 (exit-code)"
    assert calls.read_text().splitlines()[0].startswith("show --no-pager -p Id,LoadState,ActiveState,SubState,MainPID")
    assert calls.read_text().splitlines()[0].endswith("-- tengine.service redis.service")
    from opsconsole.backends.ssh.managers import manager_for

    assert await manager_for(session.pool, session.settings.hosts[0]).act("restart", "redis.service") == \
        "redis.service: restart done"
    assert calls.read_text().splitlines()[-1] == "restart -- redis.service"
    ref = await services.open_log(items["tengine.service"])  # journald: a followed stream
    assert ref.job.key == "hosts/vm1/systemd/tengine.service"
    await session.spool.close()
