"""Entry point: arguments → settings → the app, or a headless command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path

from opsconsole import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsconsole", description="Launch, watch, read and stop experiments.")
    parser.add_argument("--config", type=Path, help="config file (default: $XDG_CONFIG_HOME/opsconsole/config.toml)")
    parser.add_argument("--profile", help="profile to use (default: the config's default_profile, else 'local')")
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    sub = parser.add_subparsers(dest="command")

    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("check", help="validate the config and presets; report file:line: key — reason")

    kill = sub.add_parser("kill", help="fire the kill-switch without the UI")
    kill.add_argument("--dry-run", action="store_true", help="print the plan and do nothing at all")
    kill.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    kill.add_argument("--json", action="store_true", help="print the plan or the results as JSON")

    sub.add_parser("release", help="release the HALTED latch set by the kill-switch").add_argument(
        "--yes", action="store_true", help="do not ask for confirmation")

    tail = sub.add_parser("tail", help="open the log viewer on files")
    tail.add_argument("paths", nargs="+")
    return parser


def _load(args) -> "object":
    from opsconsole.config.settings import load_config
    from opsconsole.ui.keymap import BINDING_IDS

    return load_config(args.config, known_binding_ids=BINDING_IDS)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from opsconsole.config.settings import ConfigError

    try:
        if args.command == "config":
            return _config_check(args)
        if args.command == "tail":
            from opsconsole.ui.tail_app import run_tail

            return run_tail(args.paths)
        config = _load(args)
        from opsconsole.services.context import Context

        context = Context.create(config, args.profile)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        if args.command == "kill":
            return asyncio.run(_kill(context, args))
        if args.command == "release":
            return _release(context, args)
        from opsconsole.app import OpsConsole

        context.ledger.reconcile()
        OpsConsole(context).run()
        return 0
    finally:
        context.close()


def _config_check(args) -> int:
    from opsconsole.config import paths
    from opsconsole.config.settings import ConfigError
    from opsconsole.domain.presets import discover_presets

    problems: list[str] = []
    path = args.config or paths.default_config_path()
    try:
        config = _load(args)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
        config = None
    _, preset_errors = discover_presets(paths.search_dirs("presets"))
    problems += preset_errors
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    where = path if path.exists() else "no config file: the built-in local profile"
    print(f"ok: {where}; profiles: {', '.join(sorted(config.profiles))}; default: {config.default_profile}")
    return 0


def _confirm(prompt: str, expected: str) -> bool:
    if not sys.stdin.isatty():
        print("refusing: no terminal to confirm on; pass --yes", file=sys.stderr)
        return False
    answer = input(f"{prompt} Type {expected!r} to confirm: ")
    return answer.strip() == expected


async def _kill(context, args) -> int:
    from opsconsole.domain import policy

    profile = context.profile
    reason = policy.refusal(policy.KILLSWITCH, profile=profile.name, readonly=profile.readonly)
    if reason:
        print(f"refused: {reason}", file=sys.stderr)
        return 2
    ks = context.killswitch()
    plan = ks.dry_run() if args.dry_run else ks.plan()
    if args.dry_run or not args.json:
        _print_plan(plan, profile, args.json)
    if args.dry_run:
        return 0
    if not args.yes and not _confirm(f"FIRE the kill-switch of {profile.name} [{profile.environment}]?", profile.name):
        print("cancelled", file=sys.stderr)
        return 1

    def _progress(result) -> None:
        if not args.json and result.outcome not in ("pending", "running"):
            print(f"  {result.name:<24} {result.outcome:<8} {result.elapsed or 0:6.2f}s  {result.detail or ''}")

    report = await ks.fire(by=f"{getpass.getuser()}@opsconsole-cli", on_update=_progress)
    if args.json:
        print(json.dumps({
            "kill_id": report.kill_id, "ok": report.ok, "profile": profile.name,
            "steps": [{"name": r.name, "kind": r.kind, "outcome": r.outcome, "elapsed": r.elapsed,
                       "detail": r.detail} for r in report.results]}, indent=2))
    else:
        print("HALTED: launches are refused until `opsconsole release`." if report.ok else
              "NOT all steps ended ok: check the failed/unknown ones by hand. HALTED is set.")
    return 0 if report.ok else 1


def _print_plan(plan, profile, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"profile": profile.name, "environment": profile.environment, "dry_run": True,
                          "steps": [{"name": s.name, "kind": s.kind, "description": s.description,
                                     "deadline": s.deadline, "enabled": s.enabled} for s in plan]}, indent=2))
        return
    print(f"kill-switch plan for {profile.name} [{profile.environment}]:")
    for step in plan:
        state = "" if step.enabled else " (disabled)"
        print(f"  {step.name:<24} {step.kind:<10} deadline {step.deadline:g}s  {step.description}{state}")


def _release(context, args) -> int:
    from opsconsole.domain import policy

    profile = context.profile
    reason = policy.refusal(policy.RELEASE, profile=profile.name, readonly=profile.readonly)
    if reason:
        print(f"refused: {reason}", file=sys.stderr)
        return 2
    latch = context.ledger.halt_latch()
    if latch is None:
        print("not halted: nothing to release")
        return 0
    if not args.yes and not _confirm(f"Release the HALTED latch of {profile.name} (set by {latch.by})?", profile.name):
        print("cancelled", file=sys.stderr)
        return 1
    context.killswitch().release(f"{getpass.getuser()}@opsconsole-cli")
    print("released: launches are allowed again")
    return 0
