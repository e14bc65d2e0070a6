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
    # --config/--profile are accepted after the subcommand too (`opsconsole kill --profile P`):
    # given there, they win; not given, the ones before the subcommand stay
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--profile", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    config = command("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("check", parents=[common],
                          help="validate the config, presets, theme and --profile; report file:line: key — reason")

    kill = command("kill", help="fire the kill-switch without the UI")
    kill.add_argument("--dry-run", action="store_true", help="print the plan and do nothing at all")
    kill.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    kill.add_argument("--json", action="store_true", help="print the plan or the results as JSON")
    kill.add_argument("--status", action="store_true",
                      help="print the HALTED latch, interrupted kills and unrecorded audit rows; fire nothing")

    command("release", help="release the HALTED latch set by the kill-switch").add_argument(
        "--yes", action="store_true", help="do not ask for confirmation")

    launch = command("launch", help="launch a preset (a run or a sweep) without the UI")
    launch.add_argument("preset", help="preset name (see the Launch screen) or path")
    launch.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter (repeatable); a list is space separated")
    launch.add_argument("--dry-run", action="store_true", help="print what would be sent; launch nothing")
    launch.add_argument("--no-wait", action="store_true", help="return once the runs have started (runs that live elsewhere: at once)")
    launch.add_argument("--yes", action="store_true", help="production profiles: do not ask for confirmation")
    launch.add_argument("--max-runs", type=int, metavar="N",
                        help="allow a sweep of up to N runs (default: the preset's max_runs, else 1000)")

    report = command("report", help="build the execution report of a run (Markdown) without the UI")
    report.add_argument("run", type=int, help="the run's id in the ledger")
    report.add_argument("--out", type=Path, help="write the report to this file (default: print it)")
    report.add_argument("--notes", help="set the report's Notes section to this text first")

    tail = command("tail", help="open the log viewer on files (or log URLs a backend serves: s3://, ssh://…)")
    tail.add_argument("paths", nargs="+")
    return parser


def _check_keys(remaps):
    """The config's `[keys]` remaps against every binding, the backends' actions included.
    With no remaps there is nothing to check: the backends are not imported (the first frame
    stays fast; the Help screen and each pane register their actions when shown)."""
    if not remaps:
        return []
    from opsconsole.ui.keymap import remap_problems
    from opsconsole.ui.keymap_actions import register_backends

    register_backends()  # the backends' action keys are remappable ids too
    return remap_problems(remaps)


def _load(args) -> "object":
    import opsconsole.backends.registry  # noqa: F401 - gives the config layer the backends' tables
    from opsconsole.config.settings import load_config

    return load_config(args.config, check_keys=_check_keys)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a failure is a non-zero exit with a message, never a traceback: an
    unexpected exception writes a crash report (services/crash.py) and names it."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("opsconsole: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `opsconsole launch --dry-run | head`: the reader left
        _silence_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - the last net: report, never a traceback
        from opsconsole.services.crash import crash_message, write_crash_report

        _silence_stdout_if_broken()
        print(crash_message(exc, write_crash_report(exc, "cli")), file=sys.stderr)
        return 70  # EX_SOFTWARE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises no BrokenPipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _silence_stdout_if_broken() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _silence_stdout()


def _main(argv: list[str] | None = None) -> int:
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

        # no recovery here: the Runs source settles orphaned runs in a thread on its first
        # fetch, so the first frame does not wait for it
        app = OpsConsole(context)
        app.run()
        return app.return_code or 0  # an app that crashed exits non-zero
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
    if config is not None:
        problems += _profile_problems(config, getattr(args, "profile", None))
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    where = path if path.exists() else "no config file: the built-in local profile"
    print(f"ok: {where}; profiles: {', '.join(sorted(config.profiles))}; default: {config.default_profile}")
    return 0


def _profile_problems(config, wanted: str | None) -> list[str]:
    """An unknown --profile, and a profile's theme that no themes dir has."""
    from opsconsole.config.settings import ConfigError
    from opsconsole.ui.theming import discover_themes

    problems: list[str] = []
    if wanted is not None:
        try:
            config.profile(wanted)
        except ConfigError as exc:
            problems.append(f"--profile {wanted}: {exc}")
        except KeyError:
            problems.append(f"--profile {wanted}: no such profile (have: {', '.join(sorted(config.profiles))})")
    themes, errors = discover_themes()
    problems += errors
    names = {t.name for t in themes}
    for name in sorted(config.profiles):
        try:
            theme = config.profile(name).theme
        except Exception:  # noqa: BLE001 - reported by the config check itself
            continue
        if theme not in names:
            problems.append(f"profile {name!r}: theme = {theme!r}: no such theme (have: {', '.join(sorted(names))})")
    return problems


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
    """Fire the kill-switch headless. Exit codes: 0 every step ok, the latch set and everything
    recorded; 1 a step failed or ended unknown, or the latch could not be set (or cancelled);
    2 refused (read-only profile); 3 every step ok but recording failed (the audit is in the
    fallback journal, or lost: the output says which)."""
    from opsconsole.domain import policy

    profile = context.profile
    reason = policy.refusal(policy.KILLSWITCH, profile=profile.name, readonly=profile.readonly)
    if reason:
        if args.json:
            print(json.dumps({"profile": profile.name, "fired": False, "refused": reason}, indent=2))
        print(f"refused: {reason}", file=sys.stderr)
        return 2
    ks = context.killswitch()
    if args.status:
        return _kill_status(ks, profile, args.json)
    plan = ks.plan()
    if args.dry_run:
        _print_plan(plan, profile, args.json, await ks.targets())
        return 0
    if not args.json:
        _print_plan(plan, profile, False, None)
    if not args.yes:
        if not sys.stdin.isatty():
            why = "no terminal to confirm on; pass --yes"
            if args.json:
                print(json.dumps({"profile": profile.name, "fired": False, "refused": why,
                                  "steps": [_step_json(s) for s in plan]}, indent=2))
            print(f"refusing: {why}", file=sys.stderr)
            return 1
        if not _confirm(f"FIRE the kill-switch of {profile.name} [{profile.environment}]?", profile.name):
            print("cancelled", file=sys.stderr)
            return 1

    def _progress(result) -> None:
        if args.json or result.outcome in ("pending", "running", "stopping"):
            return
        print(f"  {result.name:<24} {result.outcome:<8} {result.elapsed or 0:6.2f}s  {result.detail or ''}", flush=True)
        for obj in result.log.objects:
            why = f" — {obj.reason}" if obj.reason else ""
            print(f"      {obj.kind} {obj.ident}: {obj.state}{why}", flush=True)

    report = await ks.fire(by=f"{getpass.getuser()}@opsconsole-cli", on_update=_progress)
    code = 0 if report.ok and report.recorded else (1 if not report.ok else 3)
    if args.json:
        print(json.dumps({"profile": profile.name, "fired": True, "exit_code": code, **report.as_dict()}, indent=2))
        return code
    if report.latch_set:
        print(f"HALTED is set ({', '.join(report.latch_where)}): launches are refused until `opsconsole release`.")
    else:
        print("HALTED could NOT be set: launches are NOT blocked. Stop launches by hand.")
    for error in report.errors:
        print(f"  ! {error}")
    for result in report.results:
        if result.record_error:
            print(f"  ! {result.name}: {result.record_error}")
    if report.journal:
        print(f"  audit rows kept in {report.journal}: replayed into the ledger when it works again")
    if not report.steps_ok:
        print("NOT all steps ended ok: check the failed/unknown ones by hand.")
    elif not report.recorded:
        print("Every step ended ok, but recording failed (see above).")
    return code


def _kill_status(ks, profile, as_json: bool) -> int:
    """`kill --status`: 0 when all is well (halted or not), 1 when a kill was interrupted, the
    ledger is unusable or audit rows wait in the journal."""
    status = ks.status()
    trouble = bool(status["interrupted"]) or status["ledger"] != "ok" or status["journal_rows"] > 0
    if as_json:
        print(json.dumps({"profile": profile.name, **status}, indent=2, default=str))
        return 1 if trouble else 0
    latch = status["latch"]
    if latch:
        print(f"HALTED since {latch['set_at']} by {latch['by']}: {latch['reason']}")
    else:
        print("not halted: launches are allowed")
    if status["ledger"] != "ok":
        print(f"ledger: {status['ledger']}")
    for marker in status["interrupted"]:
        print(f"INTERRUPTED: the kill {marker.get('kill_id')} fired at {marker.get('started_at')} by {marker.get('by')} "
              f"never ended (its process {marker.get('pid')} died mid-kill). Run the plan again: "
              f"opsconsole --profile {profile.name} kill --yes")
    for marker in status["in_progress"]:
        print(f"in progress: kill {marker.get('kill_id')} by {marker.get('by')} (pid {marker.get('pid')})")
    if status["journal_rows"]:
        print(f"{status['journal_rows']} audit row(s) wait in the journal (the ledger could not take them)")
    return 1 if trouble else 0


def _step_json(step, targets=None) -> dict:
    out = {"name": step.name, "kind": step.kind, "phase": step.phase, "description": step.description,
           "deadline": step.deadline, "enabled": step.enabled}
    if targets is not None:
        found = targets.get(step.name)
        if isinstance(found, str):
            out["targets_note"] = found
        else:
            out["targets"] = [o.as_dict() for o in found or []]
    return out


def _print_plan(plan, profile, as_json: bool, targets) -> None:
    if as_json:
        print(json.dumps({"profile": profile.name, "environment": profile.environment, "dry_run": True,
                          "steps": [_step_json(s, targets) for s in plan]}, indent=2))
        return
    print(f"kill-switch plan for {profile.name} [{profile.environment}]:")
    phase = None
    for step in plan:
        if step.phase != phase:
            phase = step.phase
            print(f" {phase}:")
        state = "" if step.enabled else " (disabled)"
        print(f"  {step.name:<24} {step.kind:<10} deadline {step.deadline:g}s  {step.description}{state}")
        found = (targets or {}).get(step.name)
        if isinstance(found, str):
            print(f"      ({found})")
        elif found is not None:
            for obj in found or []:
                print(f"      {obj.kind} {obj.ident}" + (f"  {obj.reason}" if obj.reason else ""))
            if not found:
                print("      nothing to stop now")


def _release(context, args) -> int:
    from opsconsole.domain import policy

    profile = context.profile
    reason = policy.refusal(policy.RELEASE, profile=profile.name, readonly=profile.readonly)
    if reason:
        print(f"refused: {reason}", file=sys.stderr)
        return 2
    ks = context.killswitch()
    status = ks.status()
    latch = status["latch"]
    if latch is None:
        print("not halted: nothing to release")
        return 0
    if status["ledger"] != "ok":
        print(f"cannot release: the ledger is {status['ledger']} — a release must be audited; move the "
              f"broken ledger aside first. HALTED stays set.", file=sys.stderr)
        return 2
    from opsconsole.domain.actions import ActionCall
    from opsconsole.services.actions import RELEASE

    async def run(_) -> str:
        await asyncio.to_thread(ks.release, f"{getpass.getuser()}@opsconsole-cli")
        return "released: launches are allowed again"

    async def confirm(call) -> bool:
        await _print_reconciliation(context)
        return args.yes or _confirm(f"Release the HALTED latch of {profile.name} (set by {latch['by']})?", profile.name)

    call = ActionCall(RELEASE, "release the HALTED latch", f"set by {latch['by']}: {latch['reason']}", ["halt latch"],
                      run, label="release")
    outcome = asyncio.run(_runner(context).run(call, confirm=confirm))
    if outcome.outcome == "cancelled":
        print("cancelled", file=sys.stderr)
        return 1
    if not outcome.ok:
        print(f"{outcome.outcome}: {outcome.detail}", file=sys.stderr)
        return 2
    print(outcome.detail)
    return 0


def _dry_run(preset, kind, values, sweep, max_runs: int | None) -> int:
    """Print what a launch would send, one point at a time: a big sweep streams (counted
    first, refused above the cap; never all rendered in memory)."""
    from opsconsole.domain.sweeps import SweepTooLarge, check_size, describe_point, iter_points
    from opsconsole.services.launcher import LaunchPlan, iter_specs, run_cap

    try:
        size = check_size(sweep, run_cap(preset, max_runs))
    except SweepTooLarge as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 1
    plan = LaunchPlan(preset=preset, kind=kind, values=dict(values))
    print(f"# {size} run(s) → {plan.target_label}")
    failed = 0
    for point, spec, errors in iter_specs(plan, iter_points(sweep)):
        if spec is None:
            failed += 1
            where = f" ({describe_point(point)})" if point else ""
            for key, reason in errors.items():
                print(f"{key}: {reason}{where}", file=sys.stderr)
            continue
        lines = [f"# {describe_point(spec.sweep_point)}"] if spec.sweep_point else []
        lines.append(spec.shell)
        lines += [part.text for part in plan.previews(spec)]
        sys.stdout.write("\n".join(lines) + "\n")
    return 1 if failed else 0


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
    from opsconsole.config.toml_lines import read_toml_file
    from opsconsole.domain import policy
    from opsconsole.services.catalog import load_catalog
    from opsconsole.services.launcher import launch, plan_launch

    catalog = load_catalog(context.preset_dirs())
    try:
        if Path(args.preset).is_file():
            preset = parse_preset(read_toml_file(Path(args.preset), PresetError), Path(args.preset), catalog.kinds)
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
    sweep = {k: list(v) for k, v in preset.sweep.items()}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            print(f"--set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 1
        if not text.strip():
            print(f"--set {key}=: empty value; give a value, or leave --set {key} out to keep the preset's",
                  file=sys.stderr)
            return 1
        try:
            values[key] = kind.param(key).parse_text(text)
        except KeyError:
            print(f"--set {key}: unknown parameter of kind {kind.name!r}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"--set {key}: {exc}", file=sys.stderr)
            return 1
        if key in sweep:  # one value given for a swept key: that value, for every point
            del sweep[key]
            print(f"--set {key}: replaces the preset's sweep of {key}", file=sys.stderr)
    if args.dry_run:
        return _dry_run(preset, kind, values, sweep, args.max_runs)
    plan = plan_launch(preset, kind, values, sweep, max_runs=args.max_runs)
    if plan.errors:
        for key, reason in plan.errors.items():
            print(f"{key}: {reason}", file=sys.stderr)
        return 1
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

    async def precheck() -> str | None:
        from opsconsole.services.launcher import precheck as check

        return await check(context, plan)

    call = ActionCall(LAUNCH, f"launch {preset.name}", f"{len(plan.specs)} run(s) → {plan.target_label}",
                      [f"{preset.name} → {plan.target_label}"], run,
                      confirm=policy.needs_confirmation(policy.LAUNCH, production=profile.production),
                      label="launch", extra={"precheck": precheck})
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
    failed = [r for r in records if r.state.value == "failed"]
    for record in failed:  # e.g. the target's server is down, erroring or hanging
        print(f"run {record.id}: failed to start: {record.error or 'no reason given'}", file=sys.stderr)
    if failed:
        return 1
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
