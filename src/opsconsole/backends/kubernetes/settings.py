"""The Kubernetes backend's settings: which cluster (a kubeconfig context, as kubectl reads
it), which namespaces and pods, and what the kill step stops. No Kubernetes import here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from opsconsole.config.schema import Bool, List, Num, Str, Table

ALL_NAMESPACES = "*"

# A label selector as the API server takes it: requirements separated by commas, each
# `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`.
_KEY = r"(?:[a-z0-9A-Z.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_REQUIREMENT = re.compile(
    rf"^\s*(?:!\s*{_KEY}|{_KEY}\s*(?:(?:==|=|!=)\s*{_VALUE}|\s+(?:in|notin)\s*\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\))?)\s*$")
# a DNS-1123 label: what a namespace may be called
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def selector_problem(text: str) -> str | None:
    """Why `text` is not a label selector the API server accepts, or None."""
    depth, parts, cur = 0, [], ""
    for ch in text:  # split on the commas outside parentheses
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        if not part.strip():
            return f"not a label selector: {text!r} has an empty requirement (a stray comma?)"
        if not _REQUIREMENT.match(part):
            return (f"not a label selector: {part.strip()!r} (use key, !key, key=value, key!=value, "
                    "key in (a,b), key notin (a,b), separated by commas)")
    return None


@dataclass
class Selector(Str):
    """A label selector (checked as the API server would, so a typo is an error at load)."""

    def check(self, value, path):
        problems = list(super().check(value, path))
        if problems:
            yield from problems
            return
        why = selector_problem(value)
        if why:
            yield path, why


@dataclass
class Namespace(Str):
    def check(self, value, path):
        problems = list(super().check(value, path))
        if problems:
            yield from problems
        elif value != ALL_NAMESPACES and not _NAMESPACE.match(value):
            yield path, f"not a namespace name: {value!r} (lower-case letters, digits, '-'; or \"*\" for all)"


SCHEMA = Table({
    "context": Str(),                   # a context of the kubeconfig (default: its current-context)
    "kubeconfig": Str(),                # a path (default: $KUBECONFIG or ~/.kube/config, as kubectl)
    "namespaces": List(Namespace()),    # default: the context's namespace; ["*"]: all namespaces
    "label_selector": Selector(),       # only these pods (pane, kill step)
    "field_selector": Str(),            # e.g. "spec.nodeName=node-3"
    "timeout": Num(min=0.5, max=600),   # seconds per API call
    "tail_lines": Num(integer=True, min=0, max=10_000_000),
    "limit_bytes": Num(integer=True, min=1024, max=1 << 34),
    "delete_grace_period": Num(integer=True, min=0, max=86400),  # default: the pod's own
    "shell": List(Str()),               # the interactive shell's command
    "exec_default": Str(nonempty=False),  # what the exec prompt starts with
    "kill_airflow_pods": Bool(),        # the kill step deletes running Airflow task pods (default true)
    "kill_selector": Selector(),        # ... and running pods with these labels
    "kill_grace_period": Num(integer=True, min=0, max=3600),
    "kill_cap": Num(integer=True, min=1, max=100_000),  # at most this many pods per kill
})

DEFAULT_SHELL = ("sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh")


@dataclass(frozen=True)
class KubeSettings:
    context: str | None = None
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()
    label_selector: str | None = None
    field_selector: str | None = None
    timeout: float = 10.0
    tail_lines: int = 2000
    limit_bytes: int = 4 << 20
    delete_grace_period: int | None = None
    shell: tuple[str, ...] = DEFAULT_SHELL
    exec_default: str = ""
    kill_airflow_pods: bool = True
    kill_selector: str | None = None
    kill_grace_period: int = 5
    kill_cap: int = 2000

    @classmethod
    def from_profile(cls, table: Mapping[str, Any]) -> "KubeSettings":
        t = dict(table or {})
        kw: dict[str, Any] = {k: t[k] for k in ("context", "kubeconfig", "label_selector", "field_selector",
                                                "exec_default", "kill_selector") if k in t}
        for k in ("timeout",):
            if k in t:
                kw[k] = float(t[k])
        for k in ("tail_lines", "limit_bytes", "delete_grace_period", "kill_grace_period", "kill_cap"):
            if k in t:
                kw[k] = int(t[k])
        if "namespaces" in t:
            kw["namespaces"] = tuple(dict.fromkeys(t["namespaces"]))
        if "shell" in t and t["shell"]:
            kw["shell"] = tuple(t["shell"])
        if "kill_airflow_pods" in t:
            kw["kill_airflow_pods"] = bool(t["kill_airflow_pods"])
        return cls(**kw)

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces

    def describe(self) -> str:
        where = "all namespaces" if self.all_namespaces else (", ".join(self.namespaces) or "the context's namespace")
        return f"{self.context or 'current context'} · {where}"
