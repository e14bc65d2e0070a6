"""The one place that decides whether an action may run, for every screen and every headless
command: read-only profiles and the HALTED latch.

Every action carries a policy class (see :class:`opsconsole.domain.actions.Action`):

* ``view``   — looks, changes nothing: always allowed.
* ``change`` — changes the outside world without starting work (pause, mark failed, stop,
  release the latch).
* ``launch`` — starts work (a launch, a trigger, a clear that re-runs tasks, an unpause).
* ``kill``   — the kill-switch.

Fail-closed, as k9s clears every dangerous action at once in read-only mode: anything that is
not plainly ``view`` is refused on a read-only profile — a policy class this module has never
heard of included — and while HALTED every ``launch`` (and every unknown class) is refused.
"""

from __future__ import annotations

from opsconsole.domain.models import HaltLatch

VIEW, CHANGE, LAUNCH, KILL = "view", "change", "launch", "kill"
POLICIES = (VIEW, CHANGE, LAUNCH, KILL)

# The app-level actions, named by what they do (backends declare theirs with a policy class).
KILLSWITCH = "killswitch"
RELEASE = "release"
ACTIONS: dict[str, str] = {"launch": LAUNCH, KILLSWITCH: KILL, RELEASE: CHANGE, "view": VIEW}


def policy_of(action: str) -> str:
    """The policy class of an app-level action name, or of a class given directly; an unknown
    name is its own (unknown) class, which every check below treats as dangerous."""
    return ACTIONS.get(action, action)


def refusal(action: str, *, profile: str, readonly: bool, halt: HaltLatch | None = None,
            halt_unknown: bool = False, label: str | None = None) -> str | None:
    """Why `action` (an app action name or a policy class) is refused on this profile now, or
    None when it may run. ``halt_unknown``: the latch could not be read — refuse what starts
    work rather than guess."""
    cls = policy_of(action)
    what = label or ("fire the kill-switch" if cls == KILL else action.replace("_", " "))
    if cls == VIEW:
        return None
    if readonly:
        return (f"profile {profile!r} is read-only: cannot {what}. "
                f"Use a profile with readonly = false for this.")
    if cls not in POLICIES:
        return f"cannot {what}: action of unknown policy class {cls!r} refused (fail-closed)"
    if cls == LAUNCH and halt is not None:
        return (f"HALTED since {halt.set_at:%Y-%m-%d %H:%M:%S} UTC by {halt.by} ({halt.reason}): {what} "
                f"refused until the latch is released (Runs screen: R, or `opsconsole release`).")
    if cls == LAUNCH and halt_unknown:
        return f"cannot {what}: the HALTED latch cannot be read, so work is not started (fail-closed)"
    return None


def needs_confirmation(action: str, *, production: bool) -> bool:
    """Actions on a production profile are confirmed by naming the environment, in the UI and
    headless alike (the kill-switch has its own arm-then-fire confirmation)."""
    cls = policy_of(action)
    return production and cls != VIEW and cls != KILL
