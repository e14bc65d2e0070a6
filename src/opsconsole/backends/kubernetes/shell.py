"""`python -m opsconsole.backends.kubernetes.shell [-n NS] [-c CONTAINER] [--context C]
[--kubeconfig PATH] POD -- COMMAND...`: an interactive exec with a terminal, through the
official client (no kubectl needed). The TUI suspends itself and runs this; it puts the
terminal in raw mode, forwards keys and window sizes, and exits with the command's code."""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="opsconsole-k8s-shell")
    ap.add_argument("-n", "--namespace", default=None)
    ap.add_argument("-c", "--container", default=None)
    ap.add_argument("--context", default=None)
    ap.add_argument("--kubeconfig", default=None)
    ap.add_argument("pod")
    ap.add_argument("command", nargs="+")
    args = ap.parse_args(argv)

    from opsconsole.backends.kubernetes.client import KubeClient, api_error
    from opsconsole.backends.kubernetes.logs import exit_code
    from opsconsole.backends.kubernetes.settings import KubeSettings

    client = KubeClient(KubeSettings(context=args.context, kubeconfig=args.kubeconfig))
    try:
        client._open()
    except Exception as exc:  # noqa: BLE001
        print(f"opsconsole shell: {exc}", file=sys.stderr)
        return 2
    ns = args.namespace or client.namespace
    tty = sys.stdin.isatty()
    from kubernetes.stream import stream

    kw: dict[str, Any] = {"command": args.command, "stdin": True, "stdout": True, "stderr": not tty, "tty": tty,
                          "_preload_content": False}
    if args.container:
        kw["container"] = args.container
    try:
        ws = stream(client.core.connect_get_namespaced_pod_exec, args.pod, ns, **kw)
    except Exception as exc:  # noqa: BLE001
        print(f"opsconsole shell: {api_error(exc)}", file=sys.stderr)
        return 2
    return _pump(ws, tty, exit_code)


def _size() -> dict[str, int]:
    cols, rows = os.get_terminal_size(sys.stdout.fileno())
    return {"Width": cols, "Height": rows}


def _pump(ws: Any, tty: bool, exit_code: Any) -> int:
    fd = sys.stdin.fileno()
    old = None
    resized = [tty]
    if tty:
        import termios
        import tty as ttymod

        old = termios.tcgetattr(fd)
        ttymod.setraw(fd)
        signal.signal(signal.SIGWINCH, lambda *_: resized.__setitem__(0, True))
    out = sys.stdout.buffer
    try:
        stdin_open = True
        while ws.is_open():
            if resized[0]:
                resized[0] = False
                try:
                    ws.write_channel(4, json.dumps(_size()))
                except OSError:
                    pass
            ws.update(timeout=0.05)
            for ch in (1, 2):
                if ws.peek_channel(ch):
                    data = ws.read_channel(ch)
                    out.write(data.encode("utf-8", "replace") if isinstance(data, str) else data)
                    out.flush()
            if stdin_open:
                ready, _, _ = select.select([fd], [], [], 0)
                if ready:
                    data = os.read(fd, 4096)
                    if data:
                        ws.write_stdin(data.decode("utf-8", "replace"))
                    elif not tty:
                        stdin_open = False
                        ws.close_channel(0) if hasattr(ws, "close_channel") else None
        for ch in (1, 2):  # what came with the close
            if ws.peek_channel(ch):
                data = ws.read_channel(ch)
                out.write(data.encode("utf-8", "replace") if isinstance(data, str) else data)
        out.flush()
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    code = exit_code(ws)
    ws.close()
    return code if code is not None else 1


if __name__ == "__main__":
    sys.exit(main())
