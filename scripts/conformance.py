#!/usr/bin/env python3
"""One kubectl scenario against the real control plane and the sandbox, side by side.

Run by scripts/conformance.sh, which starts both. Every step runs against each cluster; what
legitimately differs (uids, timestamps, resourceVersions, generated names, ages, addresses,
tokens, the server's version) is normalised away, and every other difference is reported
as a diff. A difference that is known and accepted says why in ACCEPTED below.
"""

import argparse
import difflib
import json
import os
import re
import secrets
import subprocess
import sys
import time

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
"""

# Step name -> why its difference is accepted (it still counts as a difference).
ACCEPTED = {
    "get pods -o wide": "k8s-real has no scheduler (its fakelet runs pods unscheduled): NODE is <none> there",
}
TIMING = (
    "which scale steps a deployment controller takes depends on how far a rollout is when the next "
    "change lands (set env, then scale at once): pods become ready on k8s-real's fakelet and on the "
    "sandbox's kubelet at different moments; the events are otherwise the same kinds, in the same "
    "order and words, combined from the tenth as client-go's correlator does"
)
ACCEPTED["describe deployment"] = TIMING
ACCEPTED["events of the deployment"] = TIMING


def scenario(ns):
    """(name, kubectl arguments, standard input, seconds to wait before) for each step."""
    n = ["-n", ns]
    jp = "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env}"
    return [
        ("create namespace (generator)", ["create", "namespace", ns + "-gen"], None, 0),
        ("apply a namespace", ["apply", "-f", "-"], f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n", 0),
        ("apply a deployment", n + ["apply", "-f", "-"], MANIFEST, 0),
        ("read it back (jsonpath)", n + ["get", "deploy", "web", "-o", jp], None, 0),
        ("rollout status", n + ["rollout", "status", "deploy/web", "--timeout=90s"], None, 0),
        ("get deployments (table)", n + ["get", "deploy"], None, 0),
        ("get deployments -o wide", n + ["get", "deploy", "-o", "wide"], None, 0),
        ("get deployment -o json", n + ["get", "deploy", "web", "-o", "json"], None, 0),
        ("get deployment -o yaml", n + ["get", "deploy", "web", "-o", "yaml"], None, 0),
        ("get pods -o wide", n + ["get", "pods", "-o", "wide"], None, 0),
        ("get replicasets", n + ["get", "rs"], None, 0),
        ("set image", n + ["set", "image", "deploy/web", "web=nginx:1.27"], None, 0),
        ("rollout status after set image", n + ["rollout", "status", "deploy/web", "--timeout=90s"], None, 0),
        ("rollout history", n + ["rollout", "history", "deploy/web"], None, 0),
        ("set env", n + ["set", "env", "deploy/web", "GREETING=hello"], None, 0),
        ("scale", n + ["scale", "deploy/web", "--replicas=3"], None, 0),
        ("after set env and scale", n + ["get", "deploy", "web", "-o", jp], None, 0),
        ("patch (merge)", n + ["patch", "deploy", "web", "--type", "merge", "-p", '{"metadata":{"labels":{"tier":"front"}}}'], None, 0),
        ("patch (json)", n + ["patch", "deploy", "web", "--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]'], None, 0),
        (
            "patch (strategic)",
            n + ["patch", "deploy", "web", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"MODE","value":"blue"}]}]}}}}'],
            None,
            0,
        ),
        ("after the patches", n + ["get", "deploy", "web", "-o", jp + " {.metadata.labels.tier}"], None, 0),
        ("label selector", n + ["get", "deploy", "-l", "tier=front", "-o", "name"], None, 0),
        ("label selector, no match", n + ["get", "deploy", "-l", "tier=back", "-o", "name"], None, 0),
        ("rollout status after patches", n + ["rollout", "status", "deploy/web", "--timeout=90s"], None, 0),
        ("rollout undo", n + ["rollout", "undo", "deploy/web"], None, 0),
        ("rollout status after undo", n + ["rollout", "status", "deploy/web", "--timeout=90s"], None, 0),
        ("after undo", n + ["get", "deploy", "web", "-o", jp], None, 0),
        ("rollout pause", n + ["rollout", "pause", "deploy/web"], None, 0),
        ("rollout pause again", n + ["rollout", "pause", "deploy/web"], None, 0),
        ("rollout resume", n + ["rollout", "resume", "deploy/web"], None, 0),
        ("rollout restart", n + ["rollout", "restart", "deploy/web"], None, 0),
        ("rollout status after restart", n + ["rollout", "status", "deploy/web", "--timeout=90s"], None, 0),
        ("describe deployment", n + ["describe", "deploy", "web"], None, 0),
        ("events of the deployment", n + ["get", "events", "--field-selector", "involvedObject.kind=Deployment"], None, 0),
        ("a missing deployment", n + ["get", "deploy", "nope"], None, 0),
        ("a missing pod, raw", ["get", "--raw", f"/api/v1/namespaces/{ns}/pods/nope"], None, 0),
        ("apply a service account", n + ["apply", "-f", "-"], "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n", 0),
        ("create token", n + ["create", "token", "robot", "--duration=1h"], None, 0),
        ("auth can-i (admin)", n + ["auth", "can-i", "update", "deployments"], None, 0),
        ("create deployment (generator)", n + ["create", "deployment", "gen", "--image=nginx:1.25"], None, 0),
        ("replace", n + ["replace", "-f", "-"], lambda run: edited(run(n + ["get", "deploy", "web", "-o", "json"]), 3), 0),
        ("a stale update's 409", n + ["replace", "-f", "-"], lambda run: stale(run, n), 0),
        ("watch from a resourceVersion", lambda run: watch_after_label(run, n, ns), None, 0, watch_view),
        ("a forbidden request's 403", lambda run: as_robot(run, n) + ["get", "pods"], None, 0),
        ("delete the deployment", n + ["delete", "deploy", "web"], None, 0),
        ("its replica sets are gone", n + ["get", "rs", "-l", "app=web", "-o", "name"], None, 5),
    ]


def edited(got, replicas):
    """The object `kubectl get -o json` printed, with another replica count."""
    obj = json.loads(got[1])
    obj["spec"]["replicas"] = replicas
    return json.dumps(obj)


def stale(run, n):
    """The deployment as read before someone else changed it: replacing it must conflict."""
    before = run(n + ["get", "deploy", "web", "-o", "json"])
    run(n + ["scale", "deploy", "web", "--replicas=2"])
    return edited(before, 1)


def watch_after_label(run, n, ns):
    """A watch from the resourceVersion before a label change, bookmarks allowed, 3 s long."""
    rv = run(n + ["get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"])[1].strip()
    run(n + ["label", "deploy", "web", "conformance=watched"])
    path = (
        f"/apis/apps/v1/namespaces/{ns}/deployments?watch=1&resourceVersion={rv}"
        "&allowWatchBookmarks=true&timeoutSeconds=3&fieldSelector=metadata.name%3Dweb"
    )
    return ["get", "--raw", path]


def watch_view(out):
    """Each event's type and the label, once, from the label change on: how many status writes a
    controller makes around it is timing; a bookmark's moment is the server's choice."""
    seen = []
    for line in out.splitlines():
        event = json.loads(line)
        if event["type"] == "BOOKMARK":
            continue
        label = event["object"]["metadata"].get("labels", {}).get("conformance", "-")
        if label == "-" and not seen:
            continue  # a controller's status write before the label: timing
        if (event["type"], label) not in seen:
            seen.append((event["type"], label))
    return "".join(f"{kind} conformance={label}\n" for kind, label in seen)


def as_robot(run, n):
    """kubectl as the robot ServiceAccount (no RBAC granted), through a kubeconfig of its own."""
    token = run(n + ["create", "token", "robot"])[1].strip()
    server = run(["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"])[1]
    ca = run(["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"])[1]
    path = f"/tmp/conformance-robot-{secrets.token_hex(4)}.kubeconfig"
    with open(path, "w") as f:
        f.write(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
            f"    server: {server}\n    certificate-authority-data: {ca}\n"
            f"users:\n- name: robot\n  user:\n    token: {token}\n"
            "contexts:\n- name: c\n  context: {cluster: c, user: robot}\ncurrent-context: c\n"
        )
    return ["--kubeconfig", path] + n


def kubectl(kubeconfig, args, stdin=None, extra=()):
    done = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *extra, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def normalise(text, ns):
    rules = [
        (re.escape(ns), "NS"),
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uid>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<time>"),
        (r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "<time>"),
        (r'("?resourceVersion"?:\s*)"?\d+"?', r"\1<rv>"),
        (r"(resourceVersion=)\d+", r"\1<rv>"),
        (r"\bweb-[a-z0-9]{8,10}-[a-z0-9]{5}\b", "web-<hash>-<id>"),
        (r"\bweb-[a-z0-9]{8,10}\b", "web-<hash>"),
        (r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", "<token>"),
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<ip>"),
        (r"(?m)(\s)(<?\d+[smhd](\d+[smhd])?>?|<unknown>|<invalid>)(\s|$)", r"\1<age>\4"),
        # Server version: since 1.26 the deployment controller says "from 2 to 1" where 1.20
        # says "to 1"; the sandbox says what the 1.32 it reports says.
        (r"(Scaled (?:up|down) replica set \S+) from \d+ to", r"\1 to"),
        (r"\(x\d+ over <age>\)", "(x<count> over <age>)"),
    ]
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    # Table columns are as wide as their widest cell: compare cells, not spacing. How many
    # "Waiting for …" lines rollout status prints depends on how fast pods become ready.
    lines = (re.sub(r"[ \t]+", " ", line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if not line.startswith("Waiting for deployment"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--real", required=True)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kube-steps", required=True, help="sandbox/examples/kube_steps, built")
    options = parser.parse_args()
    ns = "conformance-" + secrets.token_hex(3)
    clusters = {"real": options.real, "sandbox": options.sandbox}
    identical, differing, report, transcript = 0, [], [], []

    def record(name, command, real, sandbox):
        """One step's two normalised answers: counted, kept, and diffed where they differ."""
        nonlocal identical
        number = len(transcript) + 1
        transcript.append(f"## {number}. {name}\n{sandbox}\n")
        same = real == sandbox
        if same:
            identical += 1
        else:
            differing.append(name)
            diff = "\n".join(difflib.unified_diff(real.splitlines(), sandbox.splitlines(), "real", "sandbox", lineterm=""))
            why = ACCEPTED.get(name)
            report.append(f"## {number}. {name}{f' (accepted: {why})' if why else ''}\n$ {command}\n{diff}\n")
        print(f"{'same' if same else 'DIFF'}  {number:2}. {name}", flush=True)

    for name, args, stdin, wait, *view in scenario(ns):
        if wait:
            time.sleep(wait)
        answers = {}
        for cluster, kubeconfig in clusters.items():
            # Arguments and input may be made on each cluster from what it answers first.
            def run(more, given=None, kubeconfig=kubeconfig):
                return kubectl(kubeconfig, more, given)
            code, out, err = kubectl(kubeconfig, args(run) if callable(args) else args, stdin(run) if callable(stdin) else stdin)
            if view and code == 0:
                out = view[0](out)
            answers[cluster] = normalise(f"exit {code}\n--- stdout\n{out}--- stderr\n{err}", ns)
        shown = "(made on each cluster)" if callable(args) else " ".join(args)
        record(name, f"kubectl {shown}", answers["real"], answers["sandbox"])
    # The same calls through kube-rs, the client Rollgate uses: one run per cluster, a step each.
    through_kube = {}
    for cluster, kubeconfig in clusters.items():
        done = subprocess.run([options.kube_steps, kubeconfig, ns], capture_output=True, text=True, timeout=120)
        through_kube[cluster] = json.loads(done.stdout) if done.returncode == 0 else [["kube-rs run", done.stderr]]
    for (name, real), (_, sandbox) in zip(through_kube["real"], through_kube["sandbox"]):
        record(f"kube-rs: {name}", "kube_steps", normalise(real, ns), normalise(sandbox, ns))
    os.makedirs(options.out, exist_ok=True)
    with open(os.path.join(options.out, "differences.md"), "w") as f:
        f.write("\n".join(report))
    with open(os.path.join(options.out, "transcript.md"), "w") as f:
        f.write("\n".join(transcript))
    print(f"\n{len(transcript)} scenario steps, {identical} identical after normalisation")
    unexplained = [d for d in differing if d not in ACCEPTED]
    print(f"differences: {len(differing)} ({len(differing) - len(unexplained)} accepted); diffs in {options.out}/differences.md")
    for cluster, kubeconfig in clusters.items():
        kubectl(kubeconfig, ["delete", "namespace", ns, ns + "-gen", "--wait=false", "--ignore-not-found"])
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
