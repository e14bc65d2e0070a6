"""Benchmark of the Airflow pane against a real Airflow 3.3.2 (started here from the test fixtures,
or `--url` of a running one with admin/admin and the fixture DAGs).

    python benchmarks/airflow_status.py [--url http://127.0.0.1:PORT] [--log-mb 100] [--refreshes 5]

Measures:
- refresh cost with 2,000 task instances (one run of the `opsconsole_wide` DAG, triggered while
  paused so nothing executes): fetch + normalise, median and max of `--refreshes`;
- UI responsiveness in a pilot while that pane refreshes every second: latency of a cursor key
  (press → processed), median / p95 / max, and the time the pane spends re-rendering rows;
- time to first log line of a finished ~100 MB log: opsconsole's spool (first byte written,
  whole log spooled, i.e. the last line there) vs `curl` of the same NDJSON endpoint (time to
  first byte, total), one after the other in the same run, and their ratio (target ≤ 1.05×:
  a miss is flagged).

    python benchmarks/airflow_status.py --url URL --log-only [--log-run RUN_ID]  # the log part alone
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "airflow" / "fixtures"))
sys.path.insert(0, str(ROOT / "tests"))

from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings  # noqa: E402
from opsconsole.backends.airflow.logs import AirflowLogSpool  # noqa: E402
from opsconsole.backends.airflow import session_for
from opsconsole.backends.airflow.sources import AirflowTasksSource  # noqa: E402

WIDE, DEMO = "opsconsole_wide", "opsconsole_demo"
TARGET_RATIO = 1.05  # the last line of a finished log vs curl's whole download of the same endpoint


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def until(probe, timeout=900.0, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(step)
    raise TimeoutError("benchmark setup timed out")


async def bench_refresh(client: AirflowClient, tmp: Path, runs: int) -> tuple[str, list[tuple[str, str]]]:
    rid = f"bench_wide_{int(time.time())}"
    await client.set_paused(WIDE, True)
    await client.trigger(WIDE, {}, run_id=rid)
    source = AirflowTasksSource(session_for(client, tmp), WIDE, rid)
    times, counts = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        items = await source.fetch()
        times.append(time.perf_counter() - t0)
        counts.append(len({i.key for i in items}))
    rows = [("2,000 TIs: fetch + normalise (median)", f"{statistics.median(times):.2f} s"),
            ("2,000 TIs: fetch + normalise (max)", f"{max(times):.2f} s"),
            ("2,000 TIs: unique keys every refresh", " / ".join(map(str, sorted(set(counts)))))]
    return rid, rows


async def bench_ui(url: str, rid: str, tmp: Path, presses: int = 60) -> list[tuple[str, str]]:
    import os

    from opsconsole.app import OpsConsole
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context
    from opsconsole.ui.widgets.source_pane import SourcePane
    from ui_helpers import wait_for

    os.environ.update(OPSC_AF_USER="admin", OPSC_AF_PASS="admin", XDG_CONFIG_HOME=str(tmp / "cfg"),
                      XDG_DATA_HOME=str(tmp / "xdg"))
    text = f"""default_profile = "b"
[profiles.b.airflow]
url = "{url}"
username_env = "OPSC_AF_USER"
password_env = "OPSC_AF_PASS"
dags = ["opsconsole_wide"]
poll_interval = 1
"""
    ctx = Context.create(parse_config(text, str(tmp / "c.toml")), None, data_dir=tmp / "data")
    app = OpsConsole(ctx)
    render_times: list[float] = []
    latencies: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        pane = next(p for p in app.screen.query(SourcePane) if p.source.key == "airflow")
        original = pane._render_rows

        def timed_render() -> None:
            t0 = time.perf_counter()
            original()
            render_times.append(time.perf_counter() - t0)

        pane._render_rows = timed_render  # type: ignore[method-assign]
        await wait_for(pilot, lambda: WIDE in [i.key for i in pane._shown], timeout=120)
        pane.table.focus()
        pane.table.move_cursor(row=0)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: rid in [i.key for i in pane._shown], timeout=120)
        pane.table.move_cursor(row=[i.key for i in pane._shown].index(rid))
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(pane._shown) == 2000, timeout=180)
        render_times.clear()
        pane.table.focus()
        for n in range(presses):
            before = pane.table.cursor_row
            t0 = time.perf_counter()
            await pilot.press("down" if n % 20 < 10 else "up")
            while pane.table.cursor_row == before:
                await asyncio.sleep(0)
            latencies.append(time.perf_counter() - t0)
            await pilot.pause(0.1)  # spread the presses over several refreshes
        shown = len(pane._shown)
    ctx.close()
    ms = [x * 1000 for x in latencies]
    return [("UI: rows shown at task level", f"{shown}"),
            ("UI: key latency while refreshing (median)", f"{statistics.median(ms):.0f} ms"),
            ("UI: key latency while refreshing (p95 / max)", f"{pct(ms, 95):.0f} / {max(ms):.0f} ms"),
            ("UI: re-render of 2,000 rows per refresh (median / max)",
             f"{statistics.median(render_times) * 1000:.0f} / {max(render_times) * 1000:.0f} ms"
             if render_times else "n/a"),
            ("UI: refreshes during the key test", f"{len(render_times)}")]


async def bench_log(client: AirflowClient, tmp: Path, mb: int, rid: str | None = None) -> list[tuple[str, str]]:
    if rid is None:  # a new run writing ~`mb` MB of log
        rid = f"bench_log_{int(time.time())}"
        lines = int(mb * 1e6 / 250)
        await client.set_paused(DEMO, False)
        await client.trigger(DEMO, {"lines": lines, "experiment": "x" * 200}, run_id=rid)

    async def done():
        run = await client.get_run(DEMO, rid)
        return run if run.state.final else None

    await until(done)
    ti = await client.get_task_instance(DEMO, rid, "emit_lines")
    # opsconsole: spool (first byte in the spool = first line the viewer can show)
    spool = AirflowLogSpool(client, tmp / "logspool")
    t0 = time.perf_counter()
    job = await spool.open(ti)
    await job.wait_ready()
    first = time.perf_counter() - t0
    await job.task
    total = time.perf_counter() - t0
    size = job.path.stat().st_size
    # curl of the same endpoint
    token = client._token
    url = f"{client.settings.url}/api/v2/dags/{DEMO}/dagRuns/{rid}/taskInstances/emit_lines/logs/{ti.try_number}"
    out = subprocess.run(["curl", "-sN", "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total} %{size_download}",
                          "-H", f"Authorization: Bearer {token}", "-H", "Accept: application/x-ndjson",
                          f"{url}?map_index=-1&full_content=true"], capture_output=True, text=True, check=True)
    c_first, c_total, c_size = out.stdout.split()
    ratio = total / float(c_total)
    verdict = "ok" if ratio <= TARGET_RATIO else f"MISS (target ≤ {TARGET_RATIO:.2f}×)"
    # cached: the second open costs nothing
    t1 = time.perf_counter()
    cached = await AirflowLogSpool(client, tmp / "logspool").open(ti)
    await cached.wait_ready()
    cached_s = time.perf_counter() - t1
    return [(f"log {size / 1e6:.0f} MB (rendered) / {int(c_size) / 1e6:.0f} MB NDJSON: opsconsole first line",
             f"{first:.2f} s"),
            ("log: opsconsole whole log spooled", f"{total:.2f} s"),
            ("log: curl NDJSON time to first byte", f"{float(c_first):.2f} s"),
            ("log: curl NDJSON total", f"{float(c_total):.2f} s"),
            ("log: last line, opsconsole / curl total", f"{ratio:.3f}×  {verdict}"),
            ("log: opsconsole re-open (cached spool)", f"{cached_s * 1000:.1f} ms")]


async def main_async(args, url: str, tmp: Path) -> list[tuple[str, str]]:
    client = AirflowClient(AirflowSettings(url=url, username="admin", password="admin", timeout=120))
    try:
        for _ in range(0 if args.log_only else 240):  # the wide DAG takes a little longer to parse
            try:
                await client.get_dag(WIDE)
                break
            except Exception:  # noqa: BLE001
                await asyncio.sleep(0.5)
        rows: list[tuple[str, str]] = []
        if not args.log_only:
            rid, rows = await bench_refresh(client, tmp, args.refreshes)
            rows += await bench_ui(url, rid, tmp)
        if args.log_mb:
            rows += await bench_log(client, tmp, args.log_mb, args.log_run)
        return rows
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running Airflow 3 with the fixture DAGs (default: start one)")
    parser.add_argument("--log-mb", type=int, default=100)
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--log-only", action="store_true", help="only the finished-log measure")
    parser.add_argument("--log-run", help="a finished run of opsconsole_demo to read (default: trigger one)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsconsole-bench-"))
    server = None
    url = args.url
    if url is None:
        import af_server

        server = af_server.AirflowServer(3, tmp / "airflow")
        t0 = time.monotonic()
        server.launch()
        server.wait_ready(("opsconsole_demo", "opsconsole_wide"))
        print(f"Airflow 3.3.2 ready at {server.url} in {time.monotonic() - t0:.0f}s", flush=True)
        url = server.url
    try:
        rows = asyncio.run(main_async(args, url, tmp))
    finally:
        if server is not None:
            server.stop()
    width = max(len(k) for k, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    print(f"{'-' * width}  -----")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
