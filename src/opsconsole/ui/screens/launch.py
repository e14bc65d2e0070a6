"""Launch: presets → a form generated from the run kind's schema → a live preview of exactly
what will be sent → launch with a key. Sweeps show their size and first points."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from opsconsole.config.presets import Preset
from opsconsole.domain.sweeps import describe_point, sweep_size
from opsconsole.services.catalog import Catalog, load_catalog
from opsconsole.services.launcher import LaunchPlan, plan_launch
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_content, safe_text, visible
from opsconsole.ui.screens.base import OpsScreen
from opsconsole.ui.widgets.param_field import ParamField
from opsconsole.ui.widgets.ops_footer import OpsFooter

SHOW_POINTS = 5


class LaunchScreen(OpsScreen):
    TITLE_TEXT = "Launch"
    BINDINGS = bindings("launch")
    DEFAULT_CSS = """
    LaunchScreen #body { height: 1fr; }
    LaunchScreen #presets { width: 26; border: round $panel; }
    LaunchScreen.narrow #presets { width: 18; }
    LaunchScreen.narrow ParamField .label { width: 26; }
    LaunchScreen.narrow ParamField .error { padding: 0 0 0 26; }
    LaunchScreen #presets:focus { border: round $accent; }
    LaunchScreen #main { width: 1fr; }
    LaunchScreen #form { height: 1fr; border: round $panel; padding: 0 1; }
    LaunchScreen #form:focus-within { border: round $accent; }
    LaunchScreen #help { height: 1; color: $text-muted; padding: 0 1; }
    LaunchScreen #preview { height: 9; border: round $panel; padding: 0 1; overflow-y: auto; }
    LaunchScreen.wide #main { layout: horizontal; }
    LaunchScreen.wide #preview { height: 1fr; width: 45%; }
    /* every problem, scrollable (tab to it, then up/down): none is hidden behind a cap */
    LaunchScreen #problems { height: auto; max-height: 8; color: $warning; padding: 0 1; display: none; }
    LaunchScreen #problems:focus { background: $boost; }
    LaunchScreen #problems.shown { display: block; }
    LaunchScreen #problems > Static { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__(id="launch")
        self.catalog = Catalog()
        self.preset: Preset | None = None
        self.plan: LaunchPlan | None = None
        self.preview: Group | None = None
        self._pending_values: tuple[str, dict[str, Any]] | None = None
        # form builds run one at a time, the newest request only: cancelling a build halfway
        # through mounting leaves widgets (a Select) half made
        self._form_lock = asyncio.Lock()
        self._form_wanted = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="problems"):
            yield Static("", id="problem-list")
        with Horizontal(id="body"):
            yield OptionList(id="presets")
            with Vertical(id="main"):
                with Vertical(id="editor"):
                    yield VerticalScroll(id="form")
                    yield Static("", id="help")
                yield Static("", id="preview")
        yield OpsFooter()

    def on_mount(self) -> None:
        self.query_one("#presets").border_title = "Presets"
        self.query_one("#form").border_title = "Parameters"
        self.query_one("#preview").border_title = "Will send"
        self._layout_for(self.app.size.width)
        self.load_catalog()

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width)

    def _layout_for(self, width: int) -> None:
        self.set_class(width >= 140, "wide")
        self.set_class(width < 100, "narrow")

    # --- catalog ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="catalog")
    def load_catalog(self) -> None:
        catalog = load_catalog(self.app.context.preset_dirs())
        self.app.call_from_thread(self._show_catalog, catalog)

    def _show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        options = self.query_one("#presets", OptionList)
        options.clear_options()
        options.add_options([Option(safe_text(p.name), id=p.name) for p in catalog.presets])
        count = len(catalog.problems)
        lines = [f"⚠ {count} problem{'s' if count != 1 else ''} in the presets"
                 + (" (scroll this box to see them all)" if count > 6 else "") + ":"] if count else []
        self.query_one("#problem-list", Static).update(
            safe_text("\n".join(lines + [f"  {p}" for p in catalog.problems]), keep="\n"))
        self.query_one("#problems").set_class(bool(count), "shown")
        if self._pending_values is not None:
            name, values = self._pending_values
            self._pending_values = None
            self.load_values(name, values)
        elif catalog.presets:
            names = [p.name for p in catalog.presets]
            current = self.preset.name if self.preset is not None and self.preset.name in names else None
            # first open: a preset this profile can launch (its target is configured here)
            launchable = next((n for n, p in enumerate(catalog.presets)
                               if self.app.context.target(p.target) is not None), 0)
            options.highlighted = names.index(current) if current else launchable
            if current:
                self.preset = next(p for p in catalog.presets if p.name == current)
            if not self.fields:
                options.focus()

    @on(OptionList.OptionHighlighted, "#presets")
    def _preset_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        preset = next((p for p in self.catalog.presets if p.name == event.option.id), None)
        if preset is not None and preset is not self.preset:
            # one form at a time: a newer choice cancels the filling of an older one
            self.run_worker(self.show_preset(preset), group="show-preset")

    @on(OptionList.OptionSelected, "#presets")
    def _preset_selected(self) -> None:
        fields = list(self.query(ParamField))
        if fields:
            fields[0].query_one("#input").focus()

    # --- the form -------------------------------------------------------------------------------
    async def show_preset(self, preset: Preset, values: dict[str, Any] | None = None) -> None:
        """Fill the form from a preset (or from a run being cloned: `values`). `preset` names
        the form's preset once its fields are there."""
        self._form_wanted += 1
        mine = self._form_wanted
        async with self._form_lock:
            if mine == self._form_wanted:  # else a newer request is queued behind: it builds
                await self._build_form(preset, values)

    async def _build_form(self, preset: Preset, values: dict[str, Any] | None) -> None:
        kind = self.catalog.kinds[preset.kind]
        base = {**kind.defaults(), **preset.values}
        current = {**base, **(values or {})}
        form = self.query_one("#form", VerticalScroll)
        await form.remove_children()
        form.border_title = safe_content(f"{preset.name} — {kind.name} → {preset.target}")
        # a clone of one sweep point fills that point: its swept keys are single values
        cloned = set(values or ())
        fields = [ParamField(p, current.get(p.name), base.get(p.name),
                             swept=list(preset.sweep[p.name]) if p.name in preset.sweep and p.name not in cloned
                             else None)
                  for p in kind.editable]
        await form.mount(Static(safe_text(preset.description or kind.description, style="italic", keep="\n")), *fields)
        self.preset = preset
        self._refresh_plan()

    def load_values(self, preset_name: str, values: dict[str, Any]) -> None:
        """Clone: open `preset_name` with `values` in the form (after the catalog is read)."""
        if not self.catalog.presets:
            self._pending_values = (preset_name, values)
            return
        try:
            preset = self.catalog.preset(preset_name)
        except KeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        kind = self.catalog.kinds[preset.kind]
        values = {k: v for k, v in values.items() if k in {p.name for p in kind.editable}
                  and kind.param(k).derive is None}
        options = self.query_one("#presets", OptionList)
        options.highlighted = [p.name for p in self.catalog.presets].index(preset.name)
        self.run_worker(self.show_preset(preset, values), group="show-preset")

    @property
    def fields(self) -> list[ParamField]:
        return list(self.query(ParamField))

    def form_values(self) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        values: dict[str, Any] = {}
        sweep: dict[str, list[Any]] = {}
        for f in self.fields:
            if f.swept is not None:
                sweep[f.param.name] = list(f.swept)
            elif f.value is not None:
                values[f.param.name] = f.value
        return values, sweep

    def field_errors(self) -> dict[str, str]:
        return {f.param.name: f.error for f in self.fields if f.error}

    @on(ParamField.Changed)
    def _field_changed(self) -> None:
        self._refresh_plan()

    def on_descendant_focus(self, event) -> None:
        node = event.widget
        while node is not None and not isinstance(node, ParamField):
            node = node.parent
        if isinstance(node, ParamField):
            p = node.param
            extra = f" ({p.flag})" if p.flag else ""
            self.query_one("#help", Static).update(safe_text(f"{p.name}{extra}: {p.help or p.type}", style="italic"))

    def _refresh_plan(self) -> None:
        if self.preset is None:
            return
        kind = self.catalog.kinds[self.preset.kind]
        values, sweep = self.form_values()
        plan = plan_launch(self.preset, kind, values, sweep)
        self.plan = plan
        errors = {**plan.errors, **self.field_errors()}
        derived = {}
        if plan.specs:
            derived = plan.specs[0].parameters
        for f in self.fields:
            if f.error is None:
                f.show_error(plan.errors.get(f.param.name))
            if f.param.derive is not None:
                f.set_derived(str(derived.get(f.param.name, "")) or None)
        self.preview = self._preview(plan, errors, sweep)
        self.query_one("#preview", Static).update(self.preview)

    def _preview(self, plan: LaunchPlan, errors: dict[str, str], sweep: dict[str, list[Any]]) -> Group:
        parts: list[Any] = []
        head = Text()
        head.append("target ", style="dim")
        head.append(visible(plan.target_label), style="bold")
        count = sweep_size(sweep)
        head.append(f"   {count} run{'s' if count != 1 else ''}", style="bold magenta" if count > 1 else "")
        parts.append(head)
        if errors:
            parts.append(safe_text("\n".join(f"✗ {visible(k)}: {visible(v)}" for k, v in errors.items()), style="bold red", keep="\n"))
            return Group(*parts)
        if count > 1:
            shown = plan.points[:SHOW_POINTS]
            lines = [f"  {i + 1}. {visible(describe_point(p))}" for i, p in enumerate(shown)]
            if count > SHOW_POINTS:
                lines.append(f"  … and {count - SHOW_POINTS} more")
            parts.append(Text("\n".join(lines), style="magenta"))
        if plan.first is not None:
            parts.append(Text("command line (point 1):" if count > 1 else "command line:", style="dim"))
            parts.append(safe_text(plan.first.shell, style="bold"))
            for part in plan.previews(plan.specs[0]):
                parts.append(safe_text(part.caption, style="dim"))
                parts.append(Syntax(visible(part.text, keep="\n"), part.lexer, theme="ansi_dark", word_wrap=True,
                                    background_color="default") if part.lexer else safe_text(part.text, keep="\n"))
        return Group(*parts)

    # --- actions ----------------------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.plan is None or self.preset is None:
            self.notify("No preset selected", severity="warning")
            return
        self._refresh_plan()
        errors = {**self.plan.errors, **self.field_errors()}
        if errors:
            self.notify("; ".join(f"{k}: {v}" for k, v in errors.items()), title="not launched",
                        severity="error", markup=False)
            return
        self.app.launch_plan(self.plan)

    def action_leave_field(self) -> None:
        """esc: out of the field being edited, back to the presets list."""
        self.query_one("#presets").focus()

    def action_copy(self) -> None:
        if self.plan is not None and self.plan.first is not None:
            self.app.copy_to_clipboard(self.plan.first.shell)
            self.notify("command line copied")

    def _save_refused(self) -> bool:
        """Presets are shared by every profile: a read-only profile saves none."""
        from opsconsole.domain import policy

        profile = self.app.context.profile
        reason = policy.refusal(policy.CHANGE, profile=profile.name, readonly=profile.readonly,
                                label="save a preset (presets are shared by every profile)")
        if reason:
            self.notify(reason, title="not saved", severity="error")
        return reason is not None

    def action_save(self) -> None:
        if not self._save_refused():
            self._save(None)

    def action_save_as(self) -> None:
        from opsconsole.ui.screens.line_prompt import LinePrompt

        if self.preset is None or self._save_refused():
            return

        def _chosen(name: str | None) -> None:
            if not name:
                return
            from opsconsole.config import paths
            from opsconsole.config.presets import preset_file

            try:  # a plain name, always inside the presets dir
                path = preset_file(paths.config_dir() / "presets", name)
            except ValueError as exc:
                self.notify(str(exc), title="not saved", severity="error")
                return
            if not path.exists():
                self._save(path)
                return
            from opsconsole.ui.screens.confirm import ConfirmScreen

            self.app.push_screen(ConfirmScreen(f"Overwrite preset {path.stem}?", f"{path} exists: its values and "
                                               "sweep are replaced by this form's.", confirm_label="Overwrite"),
                                 lambda ok: self._save(path) if ok else self.notify("not saved"))

        self.app.push_screen(LinePrompt("Save preset as (a name; saved in your presets dir):",
                                        f"{self.preset.name}-copy"), _chosen)

    def _save(self, path) -> None:
        preset = self.preset
        if preset is None:
            return
        if self.field_errors():
            self.notify("fix the fields marked ✗ first", severity="error")
            return
        values, sweep = self.form_values()
        kind = self.catalog.kinds[preset.kind]
        keep = {k: v for k, v in values.items()
                if k in preset.values or v != kind.defaults().get(k)}
        from opsconsole.config import paths

        mine = paths.config_dir() / "presets"
        if path is None and mine not in preset.path.resolve().parents:
            # a shipped preset is never edited in place: the edit becomes the user's own copy
            path = mine / preset.path.name
        self._write(preset, keep, sweep, path)

    @work(thread=True, group="save")
    def _write(self, preset: Preset, values, sweep, path) -> None:
        from opsconsole.config.presets import save_preset

        try:
            written = save_preset(preset, values, path, sweep=sweep)
        except Exception as exc:  # noqa: BLE001 - a failed save is reported; the form keeps its values
            self.app.call_from_thread(self.notify, f"cannot save: {exc}", severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"saved {written}", markup=False)
        self.app.call_from_thread(self.load_catalog)
