#!/usr/bin/python3
"""Live broker through the controller: `kollacfg run` against a real kube-apiserver and a real
RabbitMQ 3.10 node, fragment edit -> live policy.

Boots a private RabbitMQ node (bench.py's: Debian's rabbitmq-server, management API on
loopback) with VHOSTS vhosts and QUEUES durable queues declared through the HTTP API, and a
private kube-apiserver 1.20 + etcd (tests/e2e/kube-up.sh) with the CRDs (CEL stripped) and
`deploy/` (the chart's rendering) applied. `kollacfg run` runs with a TokenRequest token of the
chart's ServiceAccount, as crates/kollacfg-controller/tests/e2e.rs does, and
`--broker-resync RESYNC` (through KOLLACFG_BROKER_RESYNC).

In namespace bench-broker: the base Secret (examples/base/rabbitmq), the credentials Secret, a
StatefulSet, a KollaConfig with `spec.rabbitmq.management` pointing at the node, and one
RabbitPolicy per vhost (`^q`, applyTo queues, message-ttl: each covers its vhost's queues).

Measures:
  1. nothing changed: the controller's `kollacfg_broker_requests_total` over broker resyncs
     (a window of 2 x RESYNC s) and over a reconcile of unchanged inputs (the base Secret
     touched): GETs, PUTs and DELETEs sent;
  2. EDITS edits: each a server-side apply of one RabbitPolicy (random, seeded) with a new
     message-ttl, timed from just before the request until the management API shows the new
     definition (`GET /api/policies/{vhost}/{name}` every POLL s), and until the
     controller's PUT was answered (its `kollacfg_broker_requests_total{method="PUT"}`, read
     in the same loop): RabbitMQ stores the policy, then re-checks every queue of the vhost
     against it, then answers the PUT. p50/p90/p99, the requests the controller sent and the
     broker's CPU seconds over the edits.

Standard library only; runs as root. Prints the figures and a JSON summary (--json FILE).

usage: bench/broker/controller.py KOLLACFG_BINARY [WORKDIR] [--json FILE]
env: VHOSTS (10), QUEUES (10000), EDITS (100), POLL (0.01 s), RESYNC (10 s), GAP (0.5 s
between edits), SEED (1), KUBE_BIN_DIR (default: tests/e2e/kube-build.sh)
"""

import base64
import http.client
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (bench.py, beside this file: the node, vhosts and queues)


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# bench/controller/bench.py: the API client, object builders and the controller process.
ctlbench = load_module("ctlbench", os.path.join(REPO, "bench", "controller", "bench.py"))

EDITS = int(os.environ.get("EDITS", "100"))
POLL = float(os.environ.get("POLL", "0.01"))
RESYNC = int(os.environ.get("RESYNC", "10"))
GAP = float(os.environ.get("GAP", "0.5"))
SEED = int(os.environ.get("SEED", "1"))
NS = "bench-broker"
MISS_AFTER = 30.0


def log(*args):
    print(*args, flush=True)


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --- the cluster ----------------------------------------------------------------------------


class Cluster:
    """tests/e2e/kube-up.sh in DIR; the CRDs and deploy/ applied; a kubeconfig with a token of
    the chart's ServiceAccount."""

    def __init__(self, directory):
        self.dir = directory
        bin_dir = os.environ.get("KUBE_BIN_DIR") or subprocess.run(
            ["bash", os.path.join(REPO, "tests/e2e/kube-build.sh")], check=True,
            stdin=subprocess.DEVNULL, capture_output=True, text=True).stdout.strip()
        env = dict(os.environ, KUBE_BIN_DIR=bin_dir, KUBE_UP_WATCH_PID=str(os.getpid()))
        subprocess.run(["bash", os.path.join(REPO, "tests/e2e/kube-up.sh"), directory],
                       check=True, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        self.env = {}
        for line in open(os.path.join(directory, "env")):
            m = re.match(r"^(\w+)=(.*)$", line.strip())
            if m:
                self.env[m.group(1)] = subprocess.run(
                    ["bash", "-c", f"printf %s {m.group(2)}"], capture_output=True,
                    text=True).stdout
        crds = ""
        for name in sorted(os.listdir(os.path.join(REPO, "crds"))):
            if name.endswith(".yaml"):
                with open(os.path.join(REPO, "crds", name)) as f:
                    crds += "---\n" + subprocess.run(
                        ["python3", os.path.join(REPO, "tests/e2e/strip-cel.py")], stdin=f,
                        check=True, capture_output=True, text=True).stdout
        self.kubectl(["apply", "--server-side", "--field-manager", "bench", "-f", "-"], crds)
        self.kubectl(["wait", "--for", "condition=established", "--timeout", "60s", "crd",
                      "--all"])
        self.kubectl(["apply", "-k", os.path.join(REPO, "deploy")])
        self.kubeconfig = os.path.join(directory, "serviceaccount.kubeconfig")
        self.service_account_kubeconfig("kollacfg-system", "kollacfg", self.kubeconfig)
        self.api = ctlbench.Api(self.env["KUBE_API_SERVER"], self.env["KUBE_ADMIN_TOKEN"])

    def kubectl(self, args, stdin=None):
        r = subprocess.run([os.path.join(self.dir, "kubectl")] + args, input=stdin,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"kubectl {' '.join(args)}: {r.stderr}")
        return r.stdout

    def service_account_kubeconfig(self, namespace, name, path):
        request = os.path.join(self.dir, "token-request.json")
        with open(request, "w") as f:
            json.dump({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                       "spec": {"expirationSeconds": 86400}}, f)
        token = json.loads(self.kubectl(
            ["create", "--raw", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
             "-f", request]))["status"]["token"]
        with open(path, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {{server: "{self.env['KUBE_API_SERVER']}", insecure-skip-tls-verify: true}}
users:
- name: {name}
  user: {{token: "{token}"}}
contexts:
- name: {name}@bench
  context: {{cluster: bench, user: {name}}}
current-context: {name}@bench
""")

    def down(self):
        subprocess.run(["bash", os.path.join(REPO, "tests/e2e/kube-down.sh"), self.dir],
                       capture_output=True)


# --- the resources --------------------------------------------------------------------------


def kolla_config(url):
    return {"apiVersion": ctlbench.GROUP, "kind": "KollaConfig",
            "metadata": ctlbench.meta("rabbitmq", NS), "spec": {
                "service": "rabbitmq",
                "base": {"secretRef": {"name": "rabbitmq-kolla"}},
                "rollout": [{"kind": "StatefulSet", "name": "rabbitmq"}],
                "rabbitmq": {"version": "3.10", "management": {
                    "url": url, "credentialsSecretRef": {"name": "rabbitmq-management"}}},
            }}


def rabbit_policy(v, ttl):
    """The policy of vhost v: every queue `q...` of it."""
    return ctlbench.fragment("RabbitPolicy", f"ttl-{bench.vhost(v)}", NS, "rabbitmq", {
        "vhost": bench.vhost(v), "name": "bench-ttl", "pattern": "^q", "applyTo": "queues",
        "definition": {"message-ttl": ttl}})


def credentials():
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": ctlbench.meta("rabbitmq-management", NS), "type": "Opaque",
            "data": {"username": base64.b64encode(bench.USER.encode()).decode(),
                     "password": base64.b64encode(bench.PASSWORD.encode()).decode()}}


# --- the broker, seen from outside -----------------------------------------------------------


class Management:
    """One keep-alive connection to the node's management API."""

    def __init__(self, node):
        self.port = node.ports["mgmt"]
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self, path):
        return json.loads(bench.api(self.port, "GET", path, conn=self.conn))

    def policy_ttl(self, v):
        p = self.get(f"/api/policies/{bench.vhost(v)}/bench-ttl")
        return p["definition"].get("message-ttl")


def wait_all_live(mgmt, ttls, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(mgmt.policy_ttl(v) == t for v, t in ttls.items()):
                return
        except SystemExit:
            pass  # 404: not there yet
        time.sleep(0.2)
    sys.exit("the policies did not go live")


def broker_requests(ctl):
    """kollacfg_broker_requests_total by method (codes summed) and by method/code."""
    by_method, by_code = {}, {}
    for line in ctl.http("/metrics")[1].splitlines():
        if line.startswith("kollacfg_broker_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            n = int(float(line.split()[-1]))
            by_method[labels["method"]] = by_method.get(labels["method"], 0) + n
            key = f"{labels['method']} {labels['code']}"
            by_code[key] = by_code.get(key, 0) + n
    return by_method, by_code


def delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def percentile(xs, p):
    return ctlbench.percentile(xs, p)


# --- the measurements -----------------------------------------------------------------------


def counters(ctl):
    m = ctl.metrics()
    return {"reconciles": m["reconciles"], "writes": m["writes"],
            "broker": broker_requests(ctl)[0]}


def window(c0, c1):
    return {"reconciles": c1["reconciles"] - c0["reconciles"],
            "broker_requests": delta(c1["broker"], c0["broker"]),
            "api_writes": delta(c1["writes"], c0["writes"])}


def nothing_changed(api, ctl):
    """The controller's broker requests, reconciles and API writes over 2 x RESYNC s of broker
    resyncs, then over the reconcile of a touched (unchanged) base Secret. Broker resyncs are
    reconciles too, so each window is read as requests per reconcile."""
    fig = {"uptime_start": uptime()}
    c0 = counters(ctl)
    time.sleep(2 * RESYNC + 1)
    fig["resync"] = dict(window(c0, counters(ctl)), seconds=2 * RESYNC + 1)
    log(f"  nothing changed, {2 * RESYNC + 1} s with a broker resync every {RESYNC} s: "
        f"{fig['resync']}")
    c0 = counters(ctl)
    touch = {"apiVersion": "v1", "kind": "Secret", "metadata": ctlbench.meta(
        "rabbitmq-kolla", NS, annotations={"bench.kollacfg.dev/touch": str(time.time())})}
    api.apply(touch, manager="kollacfg-bench-touch")
    deadline = time.monotonic() + 60
    while counters(ctl)["reconciles"] == c0["reconciles"] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    fig["touch"] = window(c0, counters(ctl))
    fig["uptime_end"] = uptime()
    log(f"  nothing changed, base Secret touched: {fig['touch']}")
    return fig


def edits(api, ctl, node, mgmt, ttls):
    rng = random.Random(SEED)
    policy_lat, put_lat, missed = [], [], []
    req0, codes0 = broker_requests(ctl)
    c0 = counters(ctl)
    cpu0 = node.cpu_seconds()
    ctl_cpu0 = ctl.proc_status()["cpu_s"]
    fig = {"uptime_start": uptime()}
    t_start = time.monotonic()
    for i in range(EDITS):
        v = rng.randrange(len(ttls))
        ttl = 100000 + i
        obj = rabbit_policy(v, ttl)
        puts0 = broker_requests(ctl)[0].get("PUT", 0)
        t0 = time.monotonic()
        api.apply(obj)
        t_policy = t_put = None
        while time.monotonic() - t0 < MISS_AFTER:
            if t_policy is None and mgmt.policy_ttl(v) == ttl:
                t_policy = time.monotonic()
            if t_put is None and broker_requests(ctl)[0].get("PUT", 0) > puts0:
                t_put = time.monotonic()
            if t_policy is not None and t_put is not None:
                break
            time.sleep(POLL)
        if t_policy is None or t_put is None:
            missed.append(i)
            log(f"  MISS: edit {i} ({bench.vhost(v)} message-ttl {ttl}) not live within "
                f"{MISS_AFTER} s")
        else:
            policy_lat.append(t_policy - t0)
            put_lat.append(t_put - t0)
        ttls[v] = ttl
        time.sleep(GAP)
    wall = time.monotonic() - t_start
    time.sleep(1.0)
    req1, codes1 = broker_requests(ctl)
    during = window(c0, counters(ctl))
    inf = [float("inf")] * len(missed)

    def summary(lat):
        full = lat + inf
        return {"p50_ms": round(percentile(full, 50) * 1000, 1),
                "p90_ms": round(percentile(full, 90) * 1000, 1),
                "p99_ms": round(percentile(full, 99) * 1000, 1),
                "min_ms": round(min(lat) * 1000, 1), "max_ms": round(max(lat) * 1000, 1)}

    fig.update({"edits": EDITS, "missed": len(missed), "policy_visible": summary(policy_lat),
                "put_answered": summary(put_lat), "wall_s": round(wall, 1),
                "requests": delta(req1, req0), "requests_by_code": delta(codes1, codes0),
                "reconciles": during["reconciles"], "api_writes": during["api_writes"],
                "broker_cpu_s": round(node.cpu_seconds() - cpu0, 2),
                "controller_cpu_s": round(ctl.proc_status()["cpu_s"] - ctl_cpu0, 2),
                "uptime_end": uptime()})
    p, q = fig["policy_visible"], fig["put_answered"]
    log(f"  {EDITS} edits, {len(missed)} missed: policy visible p50 {p['p50_ms']} ms, "
        f"p90 {p['p90_ms']} ms, p99 {p['p99_ms']} ms (min {p['min_ms']}, max {p['max_ms']}); "
        f"controller's PUT answered p50 {q['p50_ms']} ms, p90 {q['p90_ms']} ms, "
        f"p99 {q['p99_ms']} ms (max {q['max_ms']})")
    log(f"  {fig['reconciles']} reconciles, API writes {fig['api_writes']}")
    log(f"  broker requests {fig['requests']} ({fig['requests_by_code']}); broker CPU "
        f"{fig['broker_cpu_s']} s, controller CPU {fig['controller_cpu_s']} s over {fig['wall_s']} s")
    return fig


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--json")]
    json_out = None
    if "--json" in sys.argv:
        json_out = sys.argv[sys.argv.index("--json") + 1]
        args.remove(json_out)
    kollacfg = os.path.abspath(args[0])
    work = args[1] if len(args) > 1 else tempfile.mkdtemp(prefix="kollacfg-broker-ctl-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    results = {"uptime_start": uptime(), "commit": subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
        text=True).stdout.strip()}
    log(f"== {results['uptime_start']}; commit {results['commit']}")
    node = bench.Node(os.path.join(work, "node"))
    cluster = ctl = None
    try:
        t0 = time.monotonic()
        bench.start_with_user(node)
        bench.declare(node)
        log(f"== broker up, {bench.VHOSTS} vhosts and {bench.QUEUES} queues declared in "
            f"{time.monotonic() - t0:.1f} s")
        cluster = Cluster(os.path.join(work, "cluster"))
        api = cluster.api
        log(f"== cluster up; {uptime()}")
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        api.apply(ctlbench.secret("rabbitmq-kolla", NS, ctlbench.RABBIT_BASE))
        api.apply(credentials())
        api.apply(ctlbench.workload("StatefulSet", "rabbitmq", NS))
        ttls = {v: 60000 + v for v in range(bench.VHOSTS)}
        for v, t in ttls.items():
            api.apply(rabbit_policy(v, t))
        os.environ["KOLLACFG_BROKER_RESYNC"] = str(RESYNC)
        env = dict(cluster.env, KUBE_CONTROLLER_KUBECONFIG=cluster.kubeconfig)
        ctl = ctlbench.Controller(kollacfg, env, work, "broker")
        ctl.wait_ready()
        t0 = time.monotonic()
        api.apply(kolla_config(node.url()))
        mgmt = Management(node)
        wait_all_live(mgmt, ttls)
        results["first_sync_s"] = round(time.monotonic() - t0, 2)
        log(f"== every policy live {results['first_sync_s']} s after the KollaConfig; "
            f"broker requests so far {broker_requests(ctl)[1]}")
        time.sleep(2.0)
        results["nothing_changed"] = nothing_changed(api, ctl)
        results["edits"] = edits(api, ctl, node, mgmt, ttls)
        results["uptime_end"] = uptime()
        log(f"== {results['uptime_end']}")
    finally:
        if ctl is not None:
            ctl.stop()
        if cluster is not None:
            cluster.down()
        node.stop()
        node.kill_epmd()
        if json_out:
            with open(json_out, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
