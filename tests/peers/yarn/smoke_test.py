#!/usr/bin/env python3
"""Smoke test of the RM/NM REST APIs a YARN TUI uses: list apps, app state/progress,
attempts -> containers -> container logs (NM), and kill via PUT .../state. Stdlib only."""
import json
import os
import sys
import time
import urllib.request

RM = os.environ.get("RM_URL", "http://127.0.0.1:18088")
NM = os.environ.get("NM_URL", "http://127.0.0.1:18042")
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name + (f"  [{detail}]" if detail else ""), flush=True)


def call(url, method="GET", body=None, accept="application/json"):
    # the NM's log endpoints answer only text/plain (406 Not Acceptable for application/json)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Accept": accept, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read().decode()
        return r.status, (json.loads(raw) if raw.strip().startswith(("{", "[")) else raw)


def main():
    _, info = call(f"{RM}/ws/v1/cluster/info")
    check("RM started", info["clusterInfo"]["state"] == "STARTED", info["clusterInfo"].get("hadoopVersion"))
    app = None
    for _ in range(120):  # the DistributedShell app submitted by start.sh
        _, apps = call(f"{RM}/ws/v1/cluster/apps?states=RUNNING")
        lst = (apps.get("apps") or {}).get("app") or []
        if lst:
            app = lst[0]
            break
        time.sleep(1)
    check("an app is RUNNING", app, app and f"{app['id']} {app['name']} progress={app['progress']}")
    if not app:
        return 1
    aid = app["id"]
    _, one = call(f"{RM}/ws/v1/cluster/apps/{aid}")
    check("app detail", one["app"]["state"] == "RUNNING", f"finalStatus={one['app']['finalStatus']}")
    _, att = call(f"{RM}/ws/v1/cluster/apps/{aid}/appattempts")
    a0 = att["appAttempts"]["appAttempt"][0]
    check("app attempt has AM container", a0.get("containerId"), a0.get("logsLink"))
    # containers on the NM (AM + shell container)
    cids = []
    for _ in range(30):
        _, cs = call(f"{NM}/ws/v1/node/containers")
        cids = [c["id"] for c in ((cs.get("containers") or {}).get("container") or []) if aid.split("_", 1)[1] in c["id"]]
        if len(cids) >= 2:
            break
        time.sleep(1)
    check("NM lists app containers", cids, str(cids))
    shell_cid = sorted(cids)[-1]
    time.sleep(3)
    _, logs = call(f"{NM}/ws/v1/node/containerlogs/{shell_cid}/stdout", accept="text/plain")
    check("container stdout log", "tick" in str(logs), repr(str(logs)[:80]))
    st, resp = call(f"{RM}/ws/v1/cluster/apps/{aid}/state", "PUT", {"state": "KILLED"})
    check("PUT state KILLED accepted", st in (200, 202), f"{st} {resp}")
    state = None
    for _ in range(60):
        _, s = call(f"{RM}/ws/v1/cluster/apps/{aid}/state")
        state = s["state"]
        if state == "KILLED":
            break
        time.sleep(0.5)
    check("app reaches KILLED", state == "KILLED", state)
    nf = results.count(False)
    print(f"{len(results) - nf} passed, {nf} failed")
    return 1 if nf else 0


if __name__ == "__main__":
    sys.exit(main())
