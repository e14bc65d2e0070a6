"""One row of the Launch form: a parameter's input fitted to its type, its inline error, and
a marker when it differs from the preset."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Select, Static, Switch, TextArea

from opsconsole.domain.params import Param, ParamError, pairs_text, parse_pairs_text
from opsconsole.ui.safe import safe_text, visible

_NUMERIC = {"int": "integer", "float": "number"}


class ParamField(Vertical):
    """Edits one parameter; posts Changed with the parsed value (or the reason it is refused)."""

    DEFAULT_CSS = """
    ParamField { height: auto; padding: 0 0 0 0; }
    ParamField > Horizontal { height: auto; }
    ParamField .label { width: 30; height: 1; padding: 0 1 0 0; }
    /* one row, focused or not: Textual's focused Input would be a 3-row box hiding the text */
    ParamField Input.one-row { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    ParamField Input.one-row:focus { height: 1; border: none; padding: 0 1; background: $accent 30%; }
    ParamField Select { width: 1fr; }
    ParamField SelectCurrent { border: none; height: 1; padding: 0 1; }
    ParamField Switch { height: 1; border: none; padding: 0; }
    ParamField TextArea { height: 3; width: 1fr; border: none; padding: 0 1; background: $boost; }
    ParamField TextArea:focus { border: none; background: $accent 30%; }
    ParamField .error { color: $error; height: auto; padding: 0 0 0 30; display: none; }
    ParamField.invalid .error { display: block; }
    """

    class Changed(Message):
        def __init__(self, field: "ParamField") -> None:
            super().__init__()
            self.field = field

    def __init__(self, param: Param, value: Any, preset_value: Any, swept: list[Any] | None = None,
                 derived: str | None = None) -> None:
        super().__init__(id=f"field-{param.name}")
        self.param = param
        self.value = value
        self.preset_value = preset_value
        self.swept = swept
        self.derived = derived
        self.error: str | None = None
        # a value from outside (a cloned run) holding control characters: the input shows it
        # made visible, which is not the value; it stays an error until the text is edited
        self._shown_visible: str | None = None

    # --- compose ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        p = self.param
        with Horizontal():
            yield Static(self._label(), classes="label")
            if self.swept is not None:
                yield Input(visible(", ".join(p.to_text(v) for v in self.swept)), id="input", classes="one-row",
                            tooltip="sweep: values separated by commas")
            elif p.type in ("flag", "bool"):
                yield Switch(bool(self.value), id="input")
            elif p.type == "choice":
                yield Select([(c, c) for c in p.choices], value=self.value if self.value in p.choices else Select.BLANK,
                             allow_blank=not p.required and p.default is None, id="input", compact=True)
            elif p.type == "config_pairs":
                yield TextArea(visible(pairs_text(self.value), keep="\n"), id="input", soft_wrap=False, show_line_numbers=False)
            else:
                restrict = r"[0-9+\-]*" if p.type == "int" else (r"[0-9+\-.eE]*" if p.type == "float" else None)
                text = p.to_text(self.value)
                if visible(text) != text:
                    self._shown_visible = visible(text)
                yield Input(visible(text), id="input", restrict=restrict, classes="one-row",
                            placeholder=visible(self.derived or _NUMERIC.get(p.type, p.type)))
        yield Static("", classes="error")

    def _label(self) -> Text:
        p = self.param
        changed = self.value != self.preset_value if self.swept is None else False
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("● " if changed else "  ", style="bold yellow")
        text.append(p.name, style="bold" if changed else "")
        if p.unit:
            text.append(f" [{p.unit}]", style="dim")
        if self.swept is not None:
            text.append(" sweep", style="bold magenta")
        return text

    # --- edits ------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._parse(event.value)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self._set(event.value, None)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._set(None if event.value is Select.BLANK else event.value, None)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        try:
            pairs = parse_pairs_text(event.text_area.text)
            self._set(self.param.check(pairs) if pairs else None, None)
        except ParamError as exc:
            self._set(self.value, str(exc))

    def _parse(self, text: str) -> None:
        p = self.param
        if self._shown_visible is not None:
            if text == self._shown_visible:
                self._set(self.value, "holds control characters (shown as ␛, \\x9b…): retype the value")
                return
            self._shown_visible = None
        try:
            if self.swept is not None:
                parts = [t for t in (x.strip() for x in text.split(",")) if t]
                if not parts:
                    raise ParamError("a sweep needs at least one value")
                self.swept = [p.parse_text(t) for t in parts]
                self._set(self.value, None)
                return
            value = p.parse_text(text)
            if value is None and p.required and p.derive is None:
                raise ParamError("required")
        except ParamError as exc:
            self._set(self.value, str(exc))
            return
        self._set(value, None)

    def _set(self, value: Any, error: str | None) -> None:
        self.value = value
        self.error = error
        self.set_class(error is not None, "invalid")
        self.query_one(".error", Static).update(safe_text(f"✗ {error}") if error else "")
        self.query_one(".label", Static).update(self._label())
        self.post_message(self.Changed(self))

    def show_error(self, error: str | None) -> None:
        """An error found by the whole-form check (e.g. a derivation that can't be made)."""
        if error == self.error:
            return
        self.error = error
        self.set_class(error is not None, "invalid")
        self.query_one(".error", Static).update(safe_text(f"✗ {error}") if error else "")

    def set_derived(self, derived: str | None) -> None:
        if self.derived != derived and self.param.derive is not None:
            self.derived = derived
            for widget in self.query(Input):
                widget.placeholder = visible(derived or "")
