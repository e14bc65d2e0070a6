"""The one place that decides whether an action may run: read-only profiles and the HALTED
latch are checked here for every screen and every headless command."""

from __future__ import annotations

from opsconsole.domain.models import HaltLatch

# Actions that change the outside world. Viewing is always allowed.
LAUNCH = "launch"
KILLSWITCH = "killswitch"
RELEASE = "release"
DESTRUCTIVE = {LAUNCH, KILLSWITCH, RELEASE, "trigger", "clear", "mark_failed", "set_state", "pause", "unpause",
               "stop", "delete"}


def refusal(action: str, *, profile: str, readonly: bool, halt: HaltLatch | None = None) -> str | None:
    """Why `action` is refused on this profile now, or None when it may run."""
    if readonly and action in DESTRUCTIVE:
        what = "fire the kill-switch" if action == KILLSWITCH else action.replace("_", " ")
        return (f"profile {profile!r} is read-only: cannot {what}. "
                f"Use a profile with readonly = false for this.")
    if action == LAUNCH and halt is not None:
        return (f"HALTED since {halt.set_at:%Y-%m-%d %H:%M:%S} UTC by {halt.by} ({halt.reason}): launches are "
                f"refused until the latch is released (Runs screen: R, or `opsconsole release`).")
    return None


def needs_confirmation(action: str, *, production: bool) -> bool:
    """Actions on a production profile are confirmed by naming the environment, in the UI and
    headless alike (the kill-switch has its own arm-then-fire confirmation)."""
    return production and action in DESTRUCTIVE and action != KILLSWITCH
