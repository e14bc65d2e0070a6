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

    launch = sub.add_parser("launch", help="launch a preset (a run or a sweep) without the UI")
    launch.add_argument("preset", help="preset name (see the Launch screen) or path")
    launch.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter (repeatable); a list is space separated")
    launch.add_argument("--dry-run", action="store_true", help="print what would be sent; launch nothing")
    launch.add_argument("--no-wait", action="store_true", help="return once the runs have started (runs that live elsewhere: at once)")
    launch.add_argument("--yes", action="store_true", help="production profiles: do not ask for confirmation")

    report = sub.add_parser("report", help="build the execution report of a run (Markdown) without the UI")
    report.add_argument("run", type=int, help="the run's id in the ledger")
    report.add_argument("--out", type=Path, help="write the report to this file (default: print it)")
    report.add_argument("--notes", help="set the report's Notes section to this text first")

    tail = sub.add_parser("tail", help="open the log viewer on files (or log URLs a backend serves: s3://, ssh://…)")
    tail.add_argument("paths", nargs="+")
    return parser


def _load(args) -> "object":
    from opsconsole.config.settings import load_config
    from opsconsole.ui.keymap import remap_problems
    from opsconsole.ui.keymap_actions import register_backends

    register_backends()  # the backends' action keys are remappable ids too
    return load_config(args.config, check_keys=remap_problems)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from opsconsole.config.settings import ConfigError

    try:
        if args.command == "config":
            return _config_check(args)
        if args.command == "tail":
            from opsconsole.services.urls import is_url
            from opsconsole.ui.tail_app import run_tail

            # URLs (s3://, ssh://…) are read with the profile's settings; plain files need no config
            profile = _load(args).profile(args.profile) if any(is_url(p) for p in args.paths) else None
            return run_tail(args.paths, profile)
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
        if args.command == "launch":
            return asyncio.run(_launch_and_close(context, args))
        if args.command == "report":
            return asyncio.run(_report(context, args))
        from opsconsole.app import OpsConsole

        context.recover()
        OpsConsole(context).run()
        return 0
    finally:
        context.close()


def _config_check(args) -> int:
    from opsconsole.config import paths
    from opsconsole.config.settings import ConfigError
    from opsconsole.services.catalog import load_catalog

    problems: list[str] = []
    path = args.config or paths.default_config_path()
    try:
        config = _load(args)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
        config = None
    problems += [str(p) for p in load_catalog(paths.search_dirs("presets")).problems]
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    where = path if path.exists() else "no config file: the built-in local profile"
    print(f"ok: {where}; profiles: {', '.join(sorted(config.profiles))}; default: {config.default_profile}")
    return 0


def _runner(context):
    """The one action path, as this user at the command line."""
    from opsconsole.services.actions import ActionRunner

    return ActionRunner(context, f"{getpass.getuser()}@opsconsole-cli")


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
    from opsconsole.domain.actions import ActionCall
    from opsconsole.services.actions import RELEASE

    async def run(_) -> str:
        context.killswitch().release(f"{getpass.getuser()}@opsconsole-cli")
        return "released: launches are allowed again"

    async def confirm(call) -> bool:
        await _print_reconciliation(context)
        return args.yes or _confirm(f"Release the HALTED latch of {profile.name} (set by {latch.by})?", profile.name)

    call = ActionCall(RELEASE, "release the HALTED latch", f"set by {latch.by}: {latch.reason}", ["halt latch"], run,
                      label="release")
    outcome = asyncio.run(_runner(context).run(call, confirm=confirm))
    if outcome.outcome == "cancelled":
        print("cancelled", file=sys.stderr)
        return 1
    if not outcome.ok:
        print(f"{outcome.outcome}: {outcome.detail}", file=sys.stderr)
        return 2
    print(outcome.detail)
    return 0


async def _launch_and_close(context, args) -> int:
    """A launch, then the post-run balance snapshots of the runs that ended (presets with
    snapshot_balances), and the backends' clients closed on this event loop."""
    try:
        code = await _launch(context, args)
        if not args.dry_run and not args.no_wait:
            from opsconsole.services.balances import snapshot_ended_runs

            await snapshot_ended_runs(context)
        return code
    finally:
        await context.aclose()


async def _print_reconciliation(context) -> None:
    """Before a release: what is still open (orders, runs) and balances vs the last snapshot."""
    from opsconsole.services.reconcile import format_reconciliation, reconciliation

    try:
        print("reconciliation before release:\n" + format_reconciliation(await reconciliation(context)), flush=True)
    finally:
        await context.aclose()


async def _report(context, args) -> int:
    from opsconsole.domain.report import render_markdown
    from opsconsole.services.report import build_report, export

    try:
        if context.ledger.get_run(args.run) is None:
            print(f"no run {args.run} in the ledger of profile {context.profile.name!r}", file=sys.stderr)
            return 1
        if args.notes is not None:
            await asyncio.to_thread(context.ledger.set_report_notes, args.run, args.notes)
        text = render_markdown(await build_report(context, args.run))
    finally:
        await context.aclose()
    if args.out:
        try:
            path = await asyncio.to_thread(export, text, args.out)
        except OSError as exc:
            print(f"{args.out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"report of run {args.run} written to {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _launch(context, args) -> int:
    from pathlib import Path

    from opsconsole.config.presets import PresetError, parse_preset
    from opsconsole.domain import policy
    from opsconsole.domain.sweeps import describe_point
    from opsconsole.services.catalog import load_catalog
    from opsconsole.services.launcher import launch, plan_launch

    catalog = load_catalog(context.preset_dirs())
    try:
        if Path(args.preset).is_file():
            preset = parse_preset(Path(args.preset).read_text(encoding="utf-8"), Path(args.preset), catalog.kinds)
        else:
            preset = catalog.preset(args.preset)
    except PresetError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 1
    kind = catalog.kinds[preset.kind]
    values = dict(preset.values)
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            print(f"--set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 1
        try:
            values[key] = kind.param(key).parse_text(text)
        except KeyError:
            print(f"--set {key}: unknown parameter of kind {kind.name!r}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"--set {key}: {exc}", file=sys.stderr)
            return 1
    plan = plan_launch(preset, kind, values)
    if plan.errors:
        for key, reason in plan.errors.items():
            print(f"{key}: {reason}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"# {len(plan.specs)} run(s) → {plan.target_label}")
        for spec in plan.specs:
            if spec.sweep_point:
                print(f"# {describe_point(spec.sweep_point)}")
            print(spec.shell)
            for part in plan.previews(spec):
                print(part.text)
        return 0
    from opsconsole.domain.actions import ActionCall
    from opsconsole.services.actions import LAUNCH

    profile = context.profile
    records: list = []

    async def run(_) -> str:
        records.extend(await launch(context, plan))
        return f"{preset.name}: run {', '.join(str(r.id) for r in records)}"

    async def confirm(call) -> bool:
        return args.yes or _confirm(f"Launch {len(plan.specs)} run(s) of {preset.name} on {profile.environment}?",
                                    profile.environment)

    call = ActionCall(LAUNCH, f"launch {preset.name}", f"{len(plan.specs)} run(s) → {plan.target_label}",
                      [f"{preset.name} → {plan.target_label}"], run,
                      confirm=policy.needs_confirmation(policy.LAUNCH, production=profile.production),
                      label="launch")
    outcome = await _runner(context).run(call, confirm=confirm)
    if outcome.outcome == "refused":
        print(f"refused: {outcome.detail}", file=sys.stderr)
        return 2
    if outcome.outcome == "cancelled":
        print("cancelled", file=sys.stderr)
        return 1
    if outcome.outcome == "failed":
        print(f"launch refused: {outcome.detail}", file=sys.stderr)
        return 2
    for record in records:
        print(record.id if record.external_id is None else f"{record.id} {record.external_id}", flush=True)
    target = context.target(preset.target)
    if target is None:
        return 0
    await target.wait(records, started_only=args.no_wait)
    if args.no_wait:
        return 0
    final = [context.ledger.get_run(r.id) for r in records]
    if any(r is not None and r.state.active for r in final):
        return 0  # the runs live elsewhere: the ledger follows them
    for run_ in final:
        if run_ is None:
            continue
        print(f"run {run_.id}: {run_.state.value}" + (f" (exit {run_.exit_code})" if run_.exit_code is not None
                                                     else ""), file=sys.stderr)
    return 0 if all(r is not None and r.state.value in ("success", "skipped") for r in final) else 1
