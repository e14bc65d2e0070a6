"""The hosts backend's pure parts: health rules, `systemctl show` on real captured output, docker
and supervisor states, the probe, URLs, the ssh command line, the config schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.backends.ssh import BACKEND, HostSettings
from opsconsole.backends.ssh.logs import parse_ssh_url, search_command
from opsconsole.backends.ssh.managers import docker_status, parse_systemctl_show, supervisor_status, systemd_status
from opsconsole.backends.ssh.metrics import parse_metrics
from opsconsole.backends.ssh.pool import parse_http_response
from opsconsole.backends.ssh.sources import parse_probe, ssh_argv
from opsconsole.backends.ssh.target import RemoteRun, start_script
from opsconsole.config.settings import parse_config
from opsconsole.domain.health import evaluate, evaluate_all, parse_rule
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State

DATA = Path(__file__).parent / "data"

METRICS = """\
# HELP risk_circuit_breaker_active 1 while the circuit breaker is active
# TYPE risk_circuit_breaker_active gauge
risk_circuit_breaker_active 1.0
# HELP market_data_websocket_connected 1 while the feed is connected
# TYPE market_data_websocket_connected gauge
market_data_websocket_connected{feed="alpaca"} 1.0
market_data_websocket_connected{feed="binance"} 0.0
# TYPE execution_orders_submitted counter
execution_orders_submitted_total 42.0
# TYPE market_data_latency_seconds gauge
market_data_latency_seconds 0.004
"""


# --- health rules ---------------------------------------------------------------------------
def test_rules_parse_with_labels_units_and_operators():
    r = parse_rule('market_data_websocket_connected{feed="alpaca"} == 1')
    assert (r.metric, r.labels, r.op, r.value) == ("market_data_websocket_connected", (("feed", "alpaca"),), "==", 1.0)
    assert parse_rule("latency < 250ms").value == pytest.approx(0.25)
    assert parse_rule("market_data_latency_seconds <= 0.05s").value == pytest.approx(0.05)
    assert parse_rule("x != -1e3").value == -1000.0


@pytest.mark.parametrize("bad", ["", "risk_circuit_breaker_active", "x = 1", "x == one", "x{feed=alpaca} == 1",
                                 "orders_total < 5ms", "1x == 2"])
def test_bad_rules_are_refused_with_an_example(bad):
    with pytest.raises(ValueError, match="expected a rule like|bad label|unit"):
        parse_rule(bad)


def test_rules_against_prometheus_client_parser_output():
    data = parse_metrics(METRICS)
    results = evaluate_all(["risk_circuit_breaker_active == 0", 'market_data_websocket_connected{feed="alpaca"} == 1',
                            "market_data_websocket_connected == 1", "execution_orders_submitted_total > 10",
                            "missing_metric == 0", "latency < 100ms", "market_data_latency_seconds < 10ms"],
                           data, latency=0.3)
    by = {r.rule.text: r for r in results}
    assert not by["risk_circuit_breaker_active == 0"].ok and by["risk_circuit_breaker_active == 0"].value == 1.0
    assert by['market_data_websocket_connected{feed="alpaca"} == 1'].ok
    both = by["market_data_websocket_connected == 1"]
    assert not both.ok and both.value == 0.0 and "2 samples, 1 failing" in both.detail
    assert by["execution_orders_submitted_total > 10"].ok
    assert by["missing_metric == 0"].detail == "absent" and not by["missing_metric == 0"].ok
    assert not by["latency < 100ms"].ok and by["latency < 100ms"].detail == "300ms"
    assert by["market_data_latency_seconds < 10ms"].ok
    assert evaluate(parse_rule("latency < 1s"), data, None).detail == "no response"


# --- systemd on real captured output ------------------------------------------------------
def test_systemctl_show_of_a_running_unit():
    (props,) = parse_systemctl_show((DATA / "systemctl_show_tengine.txt").read_text())
    assert props["ExecStart"].startswith("{ path=/usr/local/sinasrv5/sbin/tengine ; argv[]=")  # '=' inside values
    st = systemd_status(props, "tengine")
    assert st.state is State.RUNNING and st.raw == "active (running)"
    assert st.pid == 25548 and st.last_exit == ""  # ExecMainExitTimestampMonotonic=0: never exited
    assert st.since == "Tue 2022-06-28 11:08:39 CST"


def test_systemctl_show_of_a_failed_unit():
    (props,) = parse_systemctl_show((DATA / "systemctl_show_redis_failed.txt").read_text())
    st = systemd_status(props)
    assert st.name == "redis.service" and st.state is State.FAILED and st.raw == "failed (failed)"
    assert st.pid is None and st.last_exit == "0 (exit-code)"
    assert st.since == "Wed 2019-12-04 08:40:05 JST"  # entered inactive/failed then


def test_systemctl_show_of_several_units_splits_on_blank_lines():
    text = ((DATA / "systemctl_show_tengine.txt").read_text() + "\n"
            + (DATA / "systemctl_show_redis_failed.txt").read_text())
    blocks = parse_systemctl_show(text)
    assert [b["Id"] for b in blocks] == ["tengine.service", "redis.service"]


def test_docker_and_supervisor_states():
    st = docker_status("md", {"Status": "exited", "ExitCode": 137, "Pid": 0, "StartedAt": "2026-11-29T10:00:00.1Z",
                              "FinishedAt": "2026-11-29T11:00:00.5Z"})
    assert st.state is State.FAILED and st.last_exit == "137" and st.since == "2026-11-29 11:00:00 UTC"
    st = docker_status("md", {"Status": "running", "ExitCode": 0, "Pid": 77, "StartedAt": "2026-11-29T10:00:00Z",
                              "FinishedAt": "0001-01-01T00:00:00Z"})
    assert st.state is State.RUNNING and st.pid == 77 and st.last_exit == ""
    st = supervisor_status({"name": "x", "group": "x", "statename": "EXITED", "exitstatus": 3, "start": 10, "stop": 20,
                            "pid": 0})
    assert st.state is State.FAILED and st.last_exit == "3" and st.since_ts == 20
    st = supervisor_status({"name": "w1", "group": "workers", "statename": "RUNNING", "exitstatus": 0, "start": 10,
                            "stop": 0, "pid": 9})
    assert st.name == "workers:w1" and st.running and st.pid == 9 and st.last_exit == ""


# --- small parsers ----------------------------------------------------------------------------
def test_probe_and_http_parsing():
    p = parse_probe("0.52 0.31 0.20 2/345 9999\n--\n4\n--\n/dev/root 41152736 20576368 18462992 53% /\n")
    assert p.load == "0.52 0.31 0.20" and p.cores == "4" and p.disk_pct == 53 and p.disk == "53% · 17.6 GB free"
    assert parse_http_response(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nx 1\n") == (200, b"x 1\n")
    assert parse_http_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")[1] == b"abcde"
    with pytest.raises(ValueError):
        parse_http_response(b"SSH-2.0-OpenSSH\r\n")


def test_ssh_urls():
    assert parse_ssh_url("ssh://vm1/opt/x/logs/a.log") == (None, "vm1", None, "/opt/x/logs/a.log")
    assert parse_ssh_url("ssh://ops@10.0.0.5:2222/~/logs/a%20b.log") == ("ops", "10.0.0.5", 2222, "logs/a b.log")
    for bad in ("ssh://vm1", "ssh://vm1/", "http://vm1/x"):
        with pytest.raises(ValueError):
            parse_ssh_url(bad)


def test_ssh_command_line_checks_host_keys():
    h = HostSettings(name="vm1", hostname="10.0.0.5", user="ops", port=2222, identity="/k/id", known_hosts="/k/kh")
    assert ssh_argv(h) == ["ssh", "-o", "StrictHostKeyChecking=yes", "-p", "2222", "-i", "/k/id", "-o",
                           "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=/k/kh", "-l", "ops", "--", "10.0.0.5"]
    assert ssh_argv(HostSettings(name="alias")) == ["ssh", "-o", "StrictHostKeyChecking=yes", "--", "alias"]


def test_journal_command():
    from opsconsole.backends.ssh.logs import journal_command

    assert journal_command(HostSettings(name="a", journalctl="sudo journalctl"), "trading-market-data") == \
        "sudo journalctl -u trading-market-data -f -o short-iso --no-pager -n 1000"


def test_search_command_quotes_the_pattern():
    cmd = search_command("/var/log/a b.log", "it's $(rm -rf /)", ignore_case=True)
    assert "'it'\"'\"'s $(rm -rf /)'" in cmd and "'/var/log/a b.log'" in cmd and "-i" in cmd


def test_remote_run_ids_and_start_script():
    r = RemoteRun("dev-1", "opsconsole-runs/run-000007", 4242)
    assert RemoteRun.parse(r.external_id) == r
    script = start_script(RunSpec(kind="k", command=["python", "-c", "print('hi there')"], env={"TOKEN": "s3cr3t"}),
                          7, "opsconsole-runs/run-000007", "setsid")
    assert "setsid nohup sh -c" in script and "export OPSCONSOLE_RUN_ID=7" in script
    assert "export TOKEN=s3cr3t" in script  # given on stdin to the remote shell: never written to the host's disk
    assert "command.sh" in script and "s3cr3t" not in script.split("command.sh")[0].split("printf")[-1]
    # the log exists before the detached command starts (tmux starts it a moment after returning)
    for detach, starter in (("setsid", "setsid nohup"), ("tmux", "tmux -L")):
        script = start_script(RunSpec(kind="k", command=["true"]), 7, "runs/run-000007", detach)
        assert script.index(": > out.log") < script.index(starter) and ">> out.log 2>&1" in script


# --- config ------------------------------------------------------------------------------------
def _problems(text: str) -> list[str]:
    from opsconsole.config.settings import ConfigError

    try:
        parse_config(text, "/x/config.toml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_config_problems_name_line_and_key():
    text = """
[profiles.lab]
environment = "lab"

[[profiles.lab.hosts]]
name = "vm1"
manager = "command"
logs = ["/opt/x/logs/*.log; rm -rf /"]
health = ["risk_circuit_breaker_active = 0"]
password = "hunter2"

[[profiles.lab.hosts]]
name = "vm1"
"""
    problems = "\n".join(_problems(text))
    assert "needs commands.status" in problems
    assert "a log glob may use" in problems
    assert "expected a rule like" in problems
    assert "looks like a secret" in problems
    assert "duplicate name 'vm1'" in problems
    assert "config.toml:" in problems


def test_a_good_hosts_table_gives_typed_settings():
    cfg = parse_config("""
[profiles.lab.hosts]
""".replace("[profiles.lab.hosts]", """[[profiles.lab.hosts]]
name = "trading-1"
hostname = "10.0.0.5"
services = ["trading-market-data", "trading-risk-manager"]
manager = "supervisor"
health = ["risk_circuit_breaker_active == 0", "latency < 250ms"]
logs = ["/opt/RustAlgorithmTrading/logs/*.log"]
"""), "/x/c.toml")
    settings = BACKEND.settings(cfg.profiles["lab"].tables["hosts"])
    (h,) = settings.hosts
    assert h.services == ("trading-market-data", "trading-risk-manager") and h.manager == "supervisor"
    assert h.known_hosts is None  # ~/.ssh/known_hosts: checked by default, never disabled


def test_stop_order_defaults_to_the_reverse_and_must_name_the_same_services():
    h = HostSettings(name="a", services=("md", "risk", "exec"))
    assert h.stopping_order == ["exec", "risk", "md"]
    assert HostSettings(name="a", services=("md", "risk"), stop_order=("md", "risk")).stopping_order == ["md", "risk"]
    problems = "\n".join(_problems('[[profiles.lab.hosts]]\nname = "a"\nservices = ["md", "risk"]\n'
                                   'stop_order = ["risk"]\n'))
    assert "stop_order" in problems and "same services" in problems
