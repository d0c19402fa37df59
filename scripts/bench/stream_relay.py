#!/usr/bin/env python3
"""Deployments stream relay latency with many deployments, the cluster in its own process.

Starts `rollgate-sandbox` (the sandbox cluster alone) and the release `rollgate` on it through
a kubeconfig, as a real cluster would be reached, with a fresh database and one viewer. Adds
DEPLOYMENTS deployments (1 replica each) to `staging`, waits until they are rolled out, opens
the Deployments stream (`/live/staging/deployments`, as the browser's EventSource does), then
scales SAMPLES of them to 2 through the cluster API and times each from the scale request to
its event arriving on the stream. Medians and p95 are printed, for 5 deployments (before
adding the many) and for all of them.

Usage: scripts/bench/stream_relay.py [--deployments N] [--samples N] [--port N]
(binaries from $CARGO_TARGET_DIR/release, built by scripts/bench/build.sh; kubectl must be on
PATH).
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
target_dir = os.environ.get("CARGO_TARGET_DIR", "target")
ap.add_argument("--deployments", type=int, default=500)
ap.add_argument("--samples", type=int, default=30)
ap.add_argument("--port", type=int, default=3953)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="stream-relay-")
kubeconfig = os.path.join(work, "kubeconfig")
# The stream needs no pages: an empty site is enough.
os.makedirs(os.path.join(work, "pkg"))
children = []


def start(command, log, **kw):
    child = subprocess.Popen(command, stdout=open(os.path.join(work, log), "w"), stderr=subprocess.STDOUT, **kw)
    children.append(child)
    return child


def stop():
    for child in children:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=20)
    if os.environ.get("KEEP"):
        print("kept", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def wait_for(check, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


try:
    start([os.path.join(target_dir, "release", "rollgate-sandbox"), "--kubeconfig", kubeconfig], "sandbox.log")
    wait_for(lambda: os.path.exists(kubeconfig), "the sandbox's kubeconfig")
    config = os.path.join(work, "rollgate.toml")
    with open(config, "w") as f:
        f.write(
            f'listen = "127.0.0.1:{args.port}"\n'
            f'database_url = "sqlite://{work}/store.db?mode=rwc"\n'
            f'site_root = "{work}"\n'
            '[roles]\nvera = "viewer"\n'
            '[[environment]]\nname = "staging"\nnamespaces = ["staging"]\n'
            f'cluster = {{ kind = "kubeconfig", path = "{kubeconfig}", context = "rollgate-sandbox" }}\n'
        )
    rollgate = os.path.join(target_dir, "release", "rollgate")
    subprocess.run([rollgate, "--config", config, "user", "add", "vera"], input=b"vera-bench-pass\n", check=True,
                   capture_output=True)
    start([rollgate, "--config", config, "serve"], "rollgate.log")

    def ready():
        try:
            c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=1)
            c.request("GET", "/readyz")
            return c.getresponse().status == 200
        except OSError:
            return False

    wait_for(ready, "rollgate to be ready")

    text = open(kubeconfig).read()
    server = urllib.parse.urlparse(re.search(r"server: (\S+)", text).group(1))
    token = re.search(r"token: (\S+)", text).group(1)
    ca = os.path.join(work, "ca.pem")
    with open(ca, "wb") as f:
        f.write(base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)))
    tls = ssl.create_default_context(cafile=ca)
    tls.check_hostname = False

    def cluster(method, path, body=None, content_type="application/json"):
        c = http.client.HTTPSConnection(server.hostname, server.port, context=tls)
        c.request(method, path, body=None if body is None else json.dumps(body),
                  headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        r = c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r}")
        return json.loads(data)

    c = http.client.HTTPConnection("127.0.0.1", args.port)
    c.request("POST", "/auth/sign-in", body="username=vera&password=vera-bench-pass&next=/",
              headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{args.port}"})
    r = c.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie").split(";")[0]

    arrived = {}

    def listen():
        c = http.client.HTTPConnection("127.0.0.1", args.port)
        c.request("GET", "/live/staging/deployments", headers={"Cookie": cookie, "Accept": "text/event-stream"})
        r = c.getresponse()
        while line := r.fp.readline():
            if line.startswith(b"data:"):
                now = time.time()
                row = (json.loads(line[5:]).get("Changed") or {}).get("row")
                if row:
                    arrived.setdefault(f"{row['name']}:{row['desired']}", now)

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)
    base = "/apis/apps/v1/namespaces/staging/deployments"

    def sample(names, replicas):
        times = []
        for name in names:
            key = f"{name}:{replicas}"
            arrived.pop(key, None)
            sent = time.time()
            cluster("PATCH", f"{base}/{name}/scale", {"spec": {"replicas": replicas}}, "application/merge-patch+json")
            wait_for(lambda: key in arrived, f"{key} on the stream", 10)
            times.append((arrived[key] - sent) * 1000)
            time.sleep(0.2)
        return times

    def report(label, times):
        times = sorted(times)
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{label}: median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, max {times[-1]:.0f} ms "
              f"({len(times)} changes)")

    few = []
    for i in range(args.samples):
        few += sample(["checkout-api"], 4 if i % 2 == 0 else 3)
    report("5 deployments in the namespace", few)

    names = [f"bench-{i:04d}" for i in range(args.deployments)]
    for name in names:
        cluster("POST", base, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "checkout-api:2f0c8d1"}]}}},
        })

    def rolled_out():
        items = cluster("GET", base)["items"]
        return sum(1 for d in items if d.get("status", {}).get("availableReplicas") == 1
                   and d["metadata"]["name"].startswith("bench-")) == len(names)

    wait_for(rolled_out, f"{len(names)} deployments rolled out", 300)
    step = max(1, len(names) // args.samples)
    report(f"{len(names) + 5} deployments in the namespace", sample(names[::step][: args.samples], 2))
finally:
    stop()
