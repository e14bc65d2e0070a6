"""The YARN kill-switch step against a real RM: it kills the profile's running applications
(its queue filter) and only those, confirms each by its state, and lists them as targets first."""

from __future__ import annotations

from yarn_helpers import open_session

from opsconsole.domain.kill import CONFIRMED, STOP, StepLog


async def test_the_kill_step_kills_the_profiles_running_applications(yarn, sleeper, tmp_path):
    a = yarn.submit("ks-a", 600, "batch")
    b = yarn.submit("ks-b", 600, "batch", running=False)  # accepted or running: both are active
    session = open_session({"url": yarn.rm_url, "queues": ["batch"]}, tmp_path, kill_deadline=60)
    try:
        (step,) = session.kill_steps()
        assert step.phase == STOP and step.kind == "yarn" and "queue batch" in step.description
        targets = await step.targets()
        assert sorted(t.ident for t in targets) == sorted([a, b])
        assert all(t.kind == "yarn app" and "batch" in t.reason for t in targets)

        log = StepLog()
        detail = await step.action(log)
        assert detail.startswith("2 of 2 application(s) killed")
        assert {o.ident: o.state for o in log.objects} == {a: CONFIRMED, b: CONFIRMED}
        assert log.verdict() is None
        assert yarn.app(a)["state"] == "KILLED" and yarn.app(b)["state"] == "KILLED"
        assert yarn.app(sleeper)["state"] == "RUNNING"  # another queue: not this profile's

        again = StepLog()
        assert (await step.action(again)).startswith("no running application") and not again.objects
        assert await step.targets() == []
    finally:
        await session.aclose()


async def test_the_kill_step_fails_against_an_unreachable_rm(tmp_path):
    session = open_session({"url": "http://127.0.0.1:9", "timeout": 2}, tmp_path, kill_deadline=6)
    (step,) = session.kill_steps()
    log = StepLog()
    try:
        await step.action(log)
    except Exception as exc:  # noqa: BLE001 - the engine records it as the step's failure
        assert "127.0.0.1:9 unreachable" in str(exc)
    else:
        raise AssertionError("the step claimed success without an RM")
