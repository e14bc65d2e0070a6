"""Run kinds: a TOML definition of a program's parameters and how they render.

    name = "broker-only"
    program = ["oms/broker/ccxt/scripts/run_ccxt_broker.py"]
    [[params]]
    name = "num_bars"
    flag = "--num_bars"
    type = "int"
    gt = 0
    help = "bars to trade"

Parameters render in the order they are declared; values are validated as typed. Kind files
are read by config/kinds.py."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opsconsole.domain.params import DATETIME_FMT, Param, ParamError, Rendered


@dataclass(frozen=True)
class RunKind:
    name: str
    program: tuple[str, ...]
    params: tuple[Param, ...]
    description: str = ""
    conf_command_key: str | None = None   # also send the shell line in the conf under this key
    conf_params: bool = True              # send each parameter in the conf
    source: str = ""
    # which parts of a run's log hold its balance dicts (glob patterns over task names: seed
    # 000's flatten_account1/2 tasks), the quote currency they are read in, the account named
    balance_logs: tuple[str, ...] = ("*flatten_account*",)
    balance_quote: str = "USDT"
    balance_account: str = "run log"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def editable(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.type != "literal")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.editable if p.default is not None}

    def validate(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(normalised values, {param: reason}) — unknown names are errors too."""
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        names = {p.name for p in self.editable}
        for name in values:
            if name not in names:
                errors[name] = f"unknown parameter of kind {self.name!r}"
        for p in self.editable:
            raw = values.get(p.name)
            if raw is None and p.derive is not None:
                continue
            try:
                value = p.check(raw)
            except ParamError as exc:
                errors[p.name] = str(exc)
                continue
            if value is not None:
                clean[p.name] = value
        for p in self.editable:
            if p.derive is not None and p.name not in clean and p.name not in errors:
                try:
                    clean[p.name] = self._derive(p, clean)
                except KeyError as exc:
                    errors[p.name] = f"cannot derive: {exc} has no value"
                except (ValueError, IndexError, AttributeError, TypeError) as exc:  # a template checked at load never gets here
                    errors[p.name] = f"cannot derive: {type(exc).__name__}: {exc}"
        return clean, errors

    def _derive(self, p: Param, values: dict[str, Any]) -> Any:
        d = p.derive
        assert d is not None
        if d.template is not None:
            return d.template.format(**{k: _text(v) for k, v in values.items()})
        assert d.base is not None  # a derive without a template has a base (checked when the kind loads)
        start = datetime.strptime(str(values[d.base]), DATETIME_FMT)
        seconds = float(values[d.add_seconds]) if d.add_seconds else 0.0
        return (start + timedelta(seconds=seconds + d.offset_seconds)).strftime(DATETIME_FMT)

    def render(self, values: dict[str, Any]) -> Rendered:
        """Validated values → argv, shell line, conf. Raises ParamError listing every problem."""
        clean, errors = self.validate(values)
        if errors:
            raise ParamError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        program = [sys.executable if t == "{python}" else t for t in self.program]
        argv = list(program)
        shell = [shlex.quote(t) for t in program]
        for p in self.params:
            for token, is_value in p.tokens(clean.get(p.name)):
                shell.append(p.quoted(token) if is_value else token)
                if not (p.type == "literal" and p.shell_only):
                    argv.append(token)
        line = " ".join(shell)
        conf: dict[str, Any] = {}
        if self.conf_params:
            for p in self.editable:
                if p.in_conf and p.name in clean:
                    conf[p.conf_key or p.name] = p.conf_value(clean[p.name])
        if self.conf_command_key:
            conf[self.conf_command_key] = line
        return Rendered(argv=argv, shell=line, conf=conf)


def template_problem(template: str, names: set[str], samples: dict[str, Any]) -> str | None:
    """Why a derive template cannot render, or None. Fields must name parameters of the kind
    (`{strategy}`), without positions (`{0}`), indexes (`{x[5]}`) or attributes (`{x.y}`);
    the template must render with `samples` (the kind's defaults, a placeholder for the rest)."""
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"bad template: {exc}"
    for name in fields:
        if name == "" or name.isdigit():
            return f"{{{name}}}: a template names parameters ({{name}}), not positions"
        if not name.isidentifier():
            return f"{{{name}}}: only plain parameter names, no [index] or .attribute"
        if name not in names:
            return f"{{{name}}}: no parameter {name!r} in this kind"
    try:
        template.format(**{n: _text(samples.get(n, "x")) for n in names})
    except Exception as exc:  # noqa: BLE001 - any failure is the template's problem, reported at load
        return f"cannot render with the kind's defaults: {type(exc).__name__}: {exc}"
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)
