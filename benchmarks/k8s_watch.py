"""Benchmark of the Kubernetes pods pane on a real kube-apiserver + etcd + kwok (started here
from the test fixtures: tests/kubernetes/k8s_peer.py, built by tests/peers/k8s/install.sh when
missing), with 2,000 pods changing state.

    python benchmarks/k8s_watch.py [--pods 2000] [--rate 25] [--seconds 20] [--presses 120]

Measures, in the real app (Textual pilot, 200x50), while a writer changes pods' status at
`--rate` per second (each change a unique STATUS text):
- change → row on screen: from the moment the status PATCH was sent to the API server to the
  end of the pane's render that shows the new STATUS in that pod's row (watch → pane fetch →
  table update); median / p95 / max, and how many changes were seen;
- key latency meanwhile: cursor keys posted to the app every 50 ms as a terminal sends them
  (through the app's key dispatch and bindings), press → cursor moved; median / p95 / max, and
  dropped keys (the cursor must be where each press sent it);
- the pane's re-render time and the watch's counters (one list, then events only).
Goal (PRODUCT.md): a Kubernetes change on screen ≤ 200 ms; no dropped keys.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "kubernetes"))
sys.path.insert(0, str(ROOT / "tests"))

import k8s_peer  # noqa: E402

NS = "bench"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def create_pods(peer: k8s_peer.K8sPeer, n: int) -> float:
    from kubernetes import client

    api = peer.api()
    try:
        api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    except Exception:  # noqa: BLE001 - exists
        pass
    t0 = time.perf_counter()

    def one(i: int) -> None:
        api.create_namespaced_pod(NS, peer.pod_manifest(
            f"bench-{i:04d}", NS, labels={"dag_id": "bench_dag", "task_id": f"t{i % 50}", "run_id": f"r{i // 50}"}))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t0


class Writer(threading.Thread):
    """Changes one random pod's status `rate` times a second; remembers when each was sent."""

    def __init__(self, peer: k8s_peer.K8sPeer, n: int, rate: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.api = peer.api()
        self.n, self.rate, self.seconds = n, rate, seconds
        self.sent: dict[str, tuple[str, float]] = {}  # "ns/name" → (status text, sent at)
        self.lock = threading.Lock()
        self.count = 0
        self.errors = 0

    def run(self) -> None:
        rnd = random.Random(7)
        end = time.monotonic() + self.seconds
        i = 0
        while time.monotonic() < end:
            t_next = time.monotonic() + 1 / self.rate
            name = f"bench-{rnd.randrange(self.n):04d}"
            text = f"Bench{i}"
            phase = "Failed" if i % 2 else "Running"
            with self.lock:
                self.sent[f"{NS}/{name}"] = (text, time.perf_counter())
            try:
                self.api.patch_namespaced_pod_status(name, NS, {"status": {"phase": phase, "reason": text}})
                self.count += 1
            except Exception:  # noqa: BLE001
                self.errors += 1
            i += 1
            time.sleep(max(0.0, t_next - time.monotonic()))


async def bench(args) -> list[tuple[str, str]]:
    from textual import events

    from opsconsole.app import OpsConsole
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context
    from opsconsole.ui.widgets.source_pane import SourcePane
    from ui_helpers import wait_for

    tmp = Path(tempfile.mkdtemp(prefix="k8s-bench-"))
    t0 = time.perf_counter()
    peer = k8s_peer.K8sPeer(tmp / "peer").start()
    rows: list[tuple[str, str]] = [("peer: etcd + kube-apiserver + kwok ready", f"{time.perf_counter() - t0:.1f} s")]
    try:
        took = create_pods(peer, args.pods)
        rows.append((f"{args.pods} pods created (8 threads)", f"{took:.1f} s"))
        os.environ.update(XDG_CONFIG_HOME=str(tmp / "cfg"), XDG_DATA_HOME=str(tmp / "xdg"))
        text = f"""default_profile = "b"
[profiles.b.kubernetes]
kubeconfig = "{peer.kubeconfig}"
namespaces = ["{NS}"]
"""
        ctx = Context.create(parse_config(text, str(tmp / "c.toml")), None, data_dir=tmp / "data")
        app = OpsConsole(ctx)
        latencies: list[float] = []
        render_times: list[float] = []
        key_ms: list[float] = []
        dropped = 0
        presses = 0
        async with app.run_test(size=(200, 50)) as pilot:
            pane = next(p for p in app.screen.query(SourcePane) if p.source.key == "kubernetes")
            writer = Writer(peer, args.pods, args.rate, args.seconds)
            original = pane._render_rows

            def timed_render() -> None:
                r0 = time.perf_counter()
                original()
                done = time.perf_counter()
                render_times.append(done - r0)
                with writer.lock:
                    pending = list(writer.sent.items())
                for key, (want, sent) in pending:
                    try:
                        cell = pane.table.get_cell(key, "state")
                    except Exception:  # noqa: BLE001 - filtered out or not there yet
                        continue
                    if str(cell) == want:
                        latencies.append(done - sent)
                        with writer.lock:
                            if writer.sent.get(key, (None,))[0] == want:
                                del writer.sent[key]

            pane._render_rows = timed_render  # type: ignore[method-assign]
            t_first = time.perf_counter()
            await wait_for(pilot, lambda: len(pane._shown) >= args.pods, timeout=300)
            rows.append((f"first frame with {args.pods} rows (list + render)", f"{time.perf_counter() - t_first:.1f} s"))
            await wait_for(pilot, lambda: all(it.cells.get("state") == "Running" for it in pane.items), timeout=300)
            render_times.clear()
            pane.table.focus()
            pane.table.move_cursor(row=0)
            await pilot.pause()
            writer.start()
            direction = 1
            while writer.is_alive():
                before = pane.table.cursor_row
                target = before + direction
                if not 0 <= target < len(pane._shown):
                    direction = -direction
                    continue
                k0 = time.perf_counter()
                # the key as a terminal sends it, through the app's key dispatch and bindings
                # (not pilot.press, which also waits for every widget to go idle)
                app.post_message(events.Key("down" if direction > 0 else "up", None))
                presses += 1
                while pane.table.cursor_row == before and time.perf_counter() - k0 < 5:
                    await asyncio.sleep(0.001)
                key_ms.append((time.perf_counter() - k0) * 1000)
                if pane.table.cursor_row != target:
                    dropped += 1
                if presses % 20 == 0:
                    direction = -direction
                await asyncio.sleep(0.05)
            await pilot.pause(1.0)  # the last changes reach the screen
            unseen = len(writer.sent)
            watch = pane.source.session._watch
            stats = dict(watch.stats) if watch else {}
        ctx.close()
        ms = [x * 1000 for x in latencies]
        rows += [
            (f"changes sent ({args.rate}/s for {args.seconds}s, PATCH errors)", f"{writer.count} ({writer.errors})"),
            ("changes seen on screen / superseded or unseen", f"{len(ms)} / {unseen}"),
            ("change → row on screen: median", f"{statistics.median(ms):.0f} ms" if ms else "n/a"),
            ("change → row on screen: p95 / max", f"{pct(ms, 95):.0f} / {max(ms):.0f} ms" if ms else "n/a"),
            ("key latency meanwhile: median", f"{statistics.median(key_ms):.0f} ms" if key_ms else "n/a"),
            ("key latency meanwhile: p95 / max", f"{pct(key_ms, 95):.0f} / {max(key_ms):.0f} ms" if key_ms else "n/a"),
            ("keys pressed / dropped", f"{presses} / {dropped}"),
            ("pane re-render of 2,000 rows: median / max",
             f"{statistics.median(render_times) * 1000:.0f} / {max(render_times) * 1000:.0f} ms" if render_times else "n/a"),
            ("pane renders during the run", f"{len(render_times)}"),
            ("watch: lists / relists / resumes / events", f"{stats.get('lists')} / {stats.get('relists')} / "
                                                        f"{stats.get('resumes')} / {stats.get('events')}"),
        ]
    finally:
        peer.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=25.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    rows = asyncio.run(bench(args))
    width = max(len(k) for k, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 16}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
