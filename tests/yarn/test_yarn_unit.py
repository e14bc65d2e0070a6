"""The YARN backend's pieces that need no RM: its config table, the NM's log framing, the
kubeconfig and service-proxy URL of `via = "kubernetes"`, the profile filter."""

from __future__ import annotations

import base64

import pytest

from opsconsole.backends import registry
from opsconsole.backends.yarn.client import YarnApp, YarnSettings, container_seq, unified_state
from opsconsole.backends.yarn.kube import KubeconfigError, KubeProxy
from opsconsole.backends.yarn.logs import parse_framed
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain.states import State


def _problems(table_text: str) -> set[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as err:
        parse_config("[profiles.p]\n[profiles.p.yarn]\n" + table_text, "c.toml")
    return {(p.line, p.key, p.message) for p in err.value.problems}


def test_yarn_is_registered_and_its_table_accepted():
    assert "yarn" in registry.names() and "yarn" not in registry.config_tables().reserved()
    config = parse_config('[profiles.p.yarn]\nurl = "http://rm:8088"\nqueues = ["batch"]\n', "c.toml")
    assert config.profile("p").table("yarn") == {"url": "http://rm:8088", "queues": ["batch"]}
    via = parse_config('[profiles.p.yarn]\nvia = "kubernetes"\nnamespace = "spark"\nservice = "rm:8088"\n'
                       'context = "prod"\n', "c.toml")
    assert via.profile("p").table("yarn")["service"] == "rm:8088"


@pytest.mark.parametrize("text,key,message", [
    ("queues = [\"a\"]\n", "profiles.p.yarn", "missing the ResourceManager"),
    ('via = "kubernetes"\nnamespace = "n"\n', "profiles.p.yarn", "needs service"),
    ('url = "http://rm:8088"\nvia = "kubernetes"\nnamespace = "n"\nservice = "s"\n', "profiles.p.yarn.url", "not both"),
    ('url = "http://rm:8088"\nnamespace = "n"\n', "profiles.p.yarn.namespace", 'only with via = "kubernetes"'),
    ('url = "http://u:pw@rm:8088"\n', "profiles.p.yarn.url", "credentials"),
    ('url = "http://rm:8088"\nkill_cap = 0\n', "profiles.p.yarn.kill_cap", ">= 1"),
    ('url = "http://rm:8088"\nqeues = ["a"]\n', "profiles.p.yarn.qeues", "unknown key"),
    ('url = "http://rm:8088"\ntoken = "x"\n', "profiles.p.yarn.token", "looks like a secret"),
])
def test_bad_yarn_tables_name_the_key(text, key, message):
    problems = _problems(text)
    assert any(k == key and message in m and line is not None for line, k, m in problems), problems


def test_the_nm_framing_is_parsed_to_the_files_bytes():
    running = (b"Container: container_1_0001_01_000002 on localhost:1\nLogAggregationType: LOCAL\n=====\n"
               b"LogType:stdout\nLogLastModifiedTime:Sun Nov 29 23:01:13 +0000 2026\nLogLength:79\nLogContents:\n"
               b"k 5\ntick 6\n"
               b"End of LogType:stdout.This log file belongs to a running container (container_1) and so may "
               b"not be complete.\n*****\n\n")
    framed = parse_framed(running, -11)
    assert (framed.length, framed.data, framed.running) == (79, b"k 5\ntick 6\n", True)
    ended = running.replace(b"This log file belongs to a running container (container_1) and so may not be "
                            b"complete.", b"")
    assert parse_framed(ended, -11).running is False
    # a body that contains the framing's own words is still cut by length, not by text
    tricky = running.replace(b"k 5\ntick 6\n", b"LogLength:9\nEnd")
    assert parse_framed(tricky, -15) == parse_framed(tricky, -15).__class__(79, b"LogLength:9\nEnd", True)
    assert parse_framed(b"End of LogType:stderr.\n***\n", -10).length == 0


def test_states_and_container_numbers():
    assert unified_state("ACCEPTED") is State.QUEUED
    assert unified_state("FINISHED", "SUCCEEDED") is State.SUCCESS
    assert unified_state("FINISHED", "FAILED") is State.FAILED
    assert unified_state("KILLED", "KILLED") is State.STOPPED
    assert container_seq("container_e17_1700000000000_0042_01_000001", 12) == \
        "container_e17_1700000000000_0042_01_000012"


def test_the_profile_filter_matches_queue_leaf_or_path_user_and_name_globs():
    app = YarnApp.from_json({"id": "application_1_1", "name": "spark-lama-42", "user": "alice",
                             "queue": "root.research.batch", "state": "RUNNING"})
    assert YarnSettings(queues=("batch",)).matches(app)
    assert YarnSettings(queues=("root.research.*",)).matches(app)
    assert not YarnSettings(queues=("research",)).matches(app)
    assert YarnSettings(users=("alice",), names=("spark-lama-*",)).matches(app)
    assert not YarnSettings(users=("bob",)).matches(app)
    assert YarnSettings(queues=("batch",), users=("alice",)).scope == "queue batch; user alice"


def _kubeconfig(tmp_path, user: dict, cluster_extra: dict | None = None) -> str:
    import yaml

    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "dev",
           "clusters": [{"name": "c1", "cluster": {"server": "https://10.0.0.1:6443/", **(cluster_extra or {})}}],
           "users": [{"name": "u1", "user": user}],
           "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}},
                        {"name": "other", "context": {"cluster": "c1", "user": "u1"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


async def test_the_service_proxy_url_and_a_token_from_the_kubeconfig(tmp_path):
    path = _kubeconfig(tmp_path, {"token": "s3cr3t"}, {"insecure-skip-tls-verify": True})
    settings = YarnSettings(via="kubernetes", namespace="spark-lama-exps", service="yarn-rm:8088", kubeconfig=path)
    proxy = KubeProxy.load(settings)
    assert proxy.service_url("spark-lama-exps", "yarn-rm:8088") == \
        "https://10.0.0.1:6443/api/v1/namespaces/spark-lama-exps/services/http:yarn-rm:8088/proxy"
    assert proxy.service_url("ns", "yarn-rm") == "https://10.0.0.1:6443/api/v1/namespaces/ns/services/yarn-rm/proxy"
    assert proxy.service_url("ns", "rm:web", "https") == "https://10.0.0.1:6443/api/v1/namespaces/ns/services/https:rm:web/proxy"
    assert await proxy.auth_headers() == {"Authorization": "Bearer s3cr3t"}
    assert proxy.verify is False and "s3cr3t" not in repr(proxy)
    assert settings.shown_url == "kubernetes service spark-lama-exps/yarn-rm:8088"


async def test_an_exec_plugin_token_and_inline_ca(tmp_path):
    plugin = tmp_path / "get-token"
    plugin.write_text('#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
                      '"status":{"token":"from-plugin-\'$MYVAR\'"}}\'\n')
    plugin.chmod(0o755)
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").decode()
    path = _kubeconfig(tmp_path, {"exec": {"command": str(plugin), "env": [{"name": "MYVAR", "value": "7"}]}},
                       {"certificate-authority-data": ca})
    proxy = KubeProxy.load(YarnSettings(via="kubernetes", namespace="n", service="s", kubeconfig=path, context="other"))
    try:
        assert proxy.context == "other"
        assert await proxy.auth_headers() == {"Authorization": "Bearer from-plugin-7"}
        with open(proxy.verify) as f:
            assert "BEGIN CERTIFICATE" in f.read()
    finally:
        proxy.close()
    import os

    assert not os.path.exists(proxy.verify)  # the private copy is removed on close


def test_kubeconfig_problems_are_named(tmp_path):
    path = _kubeconfig(tmp_path, {"token": "t"})
    with pytest.raises(KubeconfigError, match="context 'prod' is not in the kubeconfig"):
        KubeProxy.load(YarnSettings(via="kubernetes", namespace="n", service="s", kubeconfig=path, context="prod"))
    with pytest.raises(KubeconfigError, match="no kubeconfig"):
        KubeProxy.load(YarnSettings(via="kubernetes", namespace="n", service="s", kubeconfig=str(tmp_path / "nope")))


async def test_an_application_ending_between_the_two_listings_is_one_row(tmp_path, monkeypatch):
    """The pane lists active and finished applications concurrently: one that ends meanwhile
    is in both answers (a duplicate row key crashed the table), and its final state wins."""
    from yarn_helpers import open_session

    session = open_session({"url": "http://127.0.0.1:9"}, tmp_path)
    raw = {"id": "application_1_0001", "name": "n", "user": "u", "queue": "root.default", "startedTime": 1000}

    async def list_apps(*, states=(), limit=None, finished_since=None):
        final = "FINISHED" in states
        return [YarnApp.from_json({**raw, "state": "KILLED" if final else "RUNNING",
                                   "finalStatus": "KILLED" if final else "UNDEFINED"})]

    monkeypatch.setattr(session.client, "list_apps", list_apps)
    (item,) = await session.sources()[0].fetch()
    assert item.state is State.STOPPED and item.cells["state"] == "killed"


@pytest.mark.parametrize("attempt_state", ["FINISHING", "FINISHED"])
async def test_an_ended_attempts_containers_are_probed_even_while_the_rm_still_lists_its_am(tmp_path, monkeypatch,
                                                                                          attempt_state):
    """Once its AM unregistered the RM reports the application FINISHED while the attempt is
    FINISHING and lists the AM's container alone (CI saw that window): the others are looked up
    on the AM's NodeManager all the same; a lookup that timed out is asked again on the next
    refresh, a plain "unknown container" is not."""
    from yarn_helpers import open_session

    from opsconsole.backends.yarn.client import LogFile, YarnAttempt, YarnContainer, YarnError
    from opsconsole.backends.yarn.sources import YarnContainersSource

    session = open_session({"url": "http://127.0.0.1:9"}, tmp_path)
    am = "container_1_0001_01_000001"
    attempt = YarnAttempt.from_json("application_1_0001", {"id": 1, "appAttemptState": attempt_state,
                                                           "containerId": am, "nodeHttpAddress": "nm:8042"})
    live = [[YarnContainer.from_json({"containerId": am, "containerState": "RUNNING"})], [], []]
    asked: list[str] = []
    timeouts = {container_seq(am, 2)}

    async def containers(app_id, attempt_id):
        return live.pop(0)

    async def log_files(node, cid):
        asked.append(cid)
        if cid in timeouts:
            timeouts.discard(cid)
            raise YarnError(0, "timed out")
        if cid == container_seq(am, 2):
            return [LogFile("stdout", 10, "")]
        if cid == container_seq(am, 3):  # what the NM answers when it knows no such application
            raise YarnError(503, "HTTP 404 Not Found")
        return []  # what it answers for a container number it never ran

    monkeypatch.setattr(session.client, "containers", containers)
    monkeypatch.setattr(session.client, "log_files", log_files)
    source = YarnContainersSource(session, "application_1_0001", attempt)
    assert [i.key for i in await source.fetch()] == [am]  # the AM listed; container 2's lookup timed out
    assert asked == [container_seq(am, n) for n in (2, 3, 4)]
    assert [i.key for i in await source.fetch()] == [am, container_seq(am, 2)]  # asked again: found
    asked.clear()
    assert [i.key for i in await source.fetch()] == [am, container_seq(am, 2)]  # a complete answer stays
    assert asked == []
