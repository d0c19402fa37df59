#!/usr/bin/env python3
"""Log relay throughput: lines per second through Rollgate's server-sent events to a
browser-like client, against `kubectl logs -f` on the same sandbox pod, side by side.

Starts the release `rollgate` binary on its embedded sandbox (fresh database, its own
kubeconfig), creates a deployment in `staging` whose container prints LINES lines and keeps
running, then alternates ROUNDS times (after one warm-up round of each):
  - `kubectl logs -f` on the pod, read line by line from its output;
  - a GET of the pod's log stream as a browser's EventSource sends it (Accept:
    text/event-stream, the session cookie, compression offered), parsed as events.
Each run is timed from the start of the request to the last line; medians are printed.

Usage: scripts/bench/log_relay.py [--binary PATH] [--lines N] [--rounds N] [--port N]
(the binary defaults to $CARGO_TARGET_DIR/release/rollgate, built by scripts/bench/build.sh;
kubectl must be on PATH).
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse

ap = argparse.ArgumentParser()
target_dir = os.environ.get("CARGO_TARGET_DIR", "target")
ap.add_argument("--binary", default=os.path.join(target_dir, "release", "rollgate"))
ap.add_argument("--lines", type=int, default=20000)
ap.add_argument("--rounds", type=int, default=9)
ap.add_argument("--port", type=int, default=3951)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="log-relay-")
site = os.path.join(work, "site")
os.makedirs(os.path.join(site, "pkg"))
env = dict(
    os.environ,
    TMPDIR=work,
    ROLLGATE_LISTEN=f"127.0.0.1:{args.port}",
    ROLLGATE_DATABASE_URL=f"sqlite://{work}/bench.db?mode=rwc",
    ROLLGATE_SITE_ROOT=site,
    RUST_LOG="warn",
)
server = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
kubeconfig = os.path.join(work, "rollgate-sandbox", "kubeconfig")


def kubectl(*a, **kw):
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *a], capture_output=True, **kw)


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    return c, c.getresponse()


try:
    for _ in range(300):
        try:
            c, r = request("GET", "/readyz")
            if r.status == 200 and os.path.exists(kubeconfig):
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        raise SystemExit("rollgate did not become ready")

    script = " && ".join(
        f'echo "{i:06} GET /api/orders/{i % 997} 200 {i % 89}ms ip=10.0.3.7"' for i in range(args.lines)
    )
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "log-bench", "namespace": "staging"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "log-bench"}},
            "template": {
                "metadata": {"labels": {"app": "log-bench"}},
                "spec": {"containers": [{"name": "printer", "image": "busybox:1.36",
                                         "command": ["sh", "-c", script + " && sleep 3600"]}]},
            },
        },
    }
    created = kubectl("create", "-f", "-", input=json.dumps(manifest).encode())
    assert created.returncode == 0, created.stderr

    form = urllib.parse.urlencode({"username": "vera", "password": "vera-viewer-demo", "next": "/"})
    _, r = request("POST", "/auth/sign-in", form, {
        "content-type": "application/x-www-form-urlencoded", "origin": f"http://127.0.0.1:{args.port}"})
    cookie = next(v.split(";")[0] for k, v in r.getheaders()
                  if k.lower() == "set-cookie" and v.startswith("rollgate-session="))

    pod = ""
    for _ in range(200):
        out = kubectl("get", "pods", "-n", "staging", "-l", "app=log-bench",
                      "--field-selector=status.phase=Running", "-o", "jsonpath={.items[0].metadata.name}")
        pod = out.stdout.decode().strip()
        if pod and kubectl("logs", "-n", "staging", pod, "--tail=1").returncode == 0:
            break
        time.sleep(0.2)
    assert pod, "the bench pod did not start"
    stream = f"/live/staging/deployments/staging/log-bench/logs?pod={pod}"

    def time_kubectl():
        start = time.perf_counter()
        p = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "logs", "-f", "-n", "staging", pod],
                             stdout=subprocess.PIPE, bufsize=1 << 16)
        seen = 0
        for _ in p.stdout:
            seen += 1
            if seen == args.lines:
                break
        elapsed = time.perf_counter() - start
        p.kill()
        p.wait()
        assert seen == args.lines, f"kubectl printed {seen} lines"
        return elapsed

    def time_relay():
        start = time.perf_counter()
        c, r = request("GET", stream, headers={
            "accept": "text/event-stream", "accept-encoding": "gzip, deflate, br",
            "cache-control": "no-cache", "cookie": cookie})
        assert r.status == 200 and r.getheader("content-encoding") is None
        seen, in_lines, first = 0, False, False
        while seen < args.lines:
            line = r.fp.readline()
            if not line:
                raise SystemExit("the stream ended early")
            if line == b"\n":
                in_lines = False
            elif line == b"event: lines\n":
                in_lines, first = True, True
            elif in_lines and line.startswith(b"data:"):
                if first:
                    first = False  # the first data line of an event names the pod
                else:
                    seen += 1
        elapsed = time.perf_counter() - start
        c.close()
        return elapsed

    print(f"log relay: {args.lines} lines from pod {pod}; {args.rounds} rounds each, alternating")
    kube, relay = [], []
    for round_ in range(args.rounds + 1):
        k, r_ = time_kubectl(), time_relay()
        note = " (warm-up, not counted)" if round_ == 0 else ""
        print(f"  round {round_}: kubectl {k * 1e3:8.1f} ms   rollgate {r_ * 1e3:8.1f} ms{note}")
        if round_ > 0:
            kube.append(args.lines / k)
            relay.append(args.lines / r_)
    k, r_ = statistics.median(kube), statistics.median(relay)
    print(f"kubectl logs -f   median {k:10.0f} lines/s")
    print(f"rollgate SSE      median {r_:10.0f} lines/s")
    print(f"rollgate/kubectl  {r_ / k * 100:.0f}% (target >= 90%)")
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)
