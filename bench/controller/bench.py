#!/usr/bin/env python3
"""Load generator and measurements for `kollacfg run` against a real kube-apiserver.

Standard library only. Talks to the API server directly over HTTPS (admin token from the
harness's env file) with keep-alive connections, and runs the controller itself as the
non-admin user `kollacfg-controller`, so that process start and every measurement share one
clock (time.monotonic).

Phases (each prints its figures; `--json` writes them all to a file):

  small  50 KollaConfigs x 20 fragments = 1,000 fragments in namespace bench-1k: cold start,
         edit -> output latency; then that data set is deleted again.
  large  500 KollaConfigs x 20 fragments = 10,000 fragments in bench-cell-1..5: cold start,
         a full resync (every base Secret touched, nothing else changed), a controller
         restart, edit -> output latency, peak RSS.

Every expected output is rendered offline first (`kollacfg render`, one target at a time) and
its content hash computed the way the controller computes `kollacfg.dev/content-hash`; the cold
start ends when every output Secret carries exactly that hash.

Usage: bench.py --env CLUSTER/env --kollacfg BIN --work DIR [--samples N] [--json FILE]
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_DIR = os.path.join(REPO, "examples", "base")
GROUP = "kollacfg.dev/v1alpha1"
PLURALS = {
    "KollaConfig": "kollaconfigs",
    "RabbitPolicy": "rabbitpolicies",
    "ErlangVmArgs": "erlangvmargs",
    "NovaVifPolicy": "novavifpolicies",
    "NovaComputePolicy": "novacomputepolicies",
    "RabbitListenerPolicy": "rabbitlistenerpolicies",
    "OsloMessagingPolicy": "oslomessagingpolicies",
    "ConfigOverride": "configoverrides",
}
FIELD_MANAGER = "kollacfg-bench"
MANAGED = "app.kubernetes.io/managed-by=kollacfg"
HASH_ANNOTATION = "kollacfg.dev/content-hash"


def log(*args):
    print(*args, flush=True)


# --- API client ---------------------------------------------------------------------------


class Api:
    """Minimal JSON client: one keep-alive HTTPS connection per thread."""

    def __init__(self, server, token):
        url = urllib.parse.urlparse(server)
        self.host, self.port = url.hostname, url.port
        self.token = token
        self.ctx = ssl._create_unverified_context()  # the harness's self-signed certificate
        self.local = threading.local()

    def connect(self, timeout=60):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", ok=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = ctype
        for attempt in range(5):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self.connect()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
                continue
            if resp.status in (429, 500, 503, 504) and attempt < 4:
                time.sleep(0.2 * (attempt + 1))
                continue
            if resp.status not in ok:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload[:400]!r}")
            return json.loads(payload) if payload else None
        raise RuntimeError("unreachable")

    def apply(self, obj, manager=FIELD_MANAGER):
        """Server-side apply (creates or updates), forced."""
        q = urllib.parse.urlencode({"fieldManager": manager, "force": "true"})
        return self.request("PATCH", object_path(obj) + "?" + q, obj,
                            ctype="application/apply-patch+yaml")

    def list(self, collection, selector=None, rv0=False):
        q = {}
        if selector:
            q["labelSelector"] = selector
        if rv0:
            q["resourceVersion"] = "0"
        return self.request("GET", collection + ("?" + urllib.parse.urlencode(q) if q else ""))


def collection_path(kind, ns=None):
    prefix = {
        "Namespace": "/api/v1",
        "Secret": "/api/v1",
        "Event": "/apis/events.k8s.io/v1",
        "DaemonSet": "/apis/apps/v1",
        "StatefulSet": "/apis/apps/v1",
    }.get(kind, "/apis/" + GROUP)
    plural = {
        "Namespace": "namespaces",
        "Secret": "secrets",
        "Event": "events",
        "DaemonSet": "daemonsets",
        "StatefulSet": "statefulsets",
    }.get(kind) or PLURALS[kind]
    if kind == "Namespace" or ns is None:
        return f"{prefix}/{plural}"
    return f"{prefix}/namespaces/{ns}/{plural}"


def object_path(obj):
    md = obj["metadata"]
    return collection_path(obj["kind"], md.get("namespace")) + "/" + md["name"]


# --- data set -----------------------------------------------------------------------------


def read_base(service):
    d = os.path.join(BASE_DIR, service)
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))}


NOVA_BASE = read_base("nova-compute")
RABBIT_BASE = read_base("rabbitmq")
NOVA_SECTIONS = ["DEFAULT", "libvirt", "workarounds", "compute", "oslo_concurrency"]


def meta(name, ns, **extra):
    m = {"name": name, "namespace": ns}
    m.update(extra)
    return m


def fragment(kind, name, ns, target, spec):
    body = {"kollaConfigRef": {"name": target}, "precedence": 0}
    body.update(spec)
    return {"apiVersion": GROUP, "kind": kind, "metadata": meta(name, ns), "spec": body}


def override_value(idx, edit=None):
    return f"bench-{idx:02d}" if edit is None else f"edit-{edit}"


def nova_override(t, ns, j, edit=None):
    section = NOVA_SECTIONS[j % len(NOVA_SECTIONS)]
    return fragment("ConfigOverride", f"{t}-override-{j:02d}", ns, t, {
        "file": "nova.conf",
        "ini": {section: {f"bench_option_{j:02d}": override_value(j, edit)}},
    })


def rabbit_policy(t, ns, j, edit=None):
    ttl = 60000 + j if edit is None else 100000 + edit
    definition = {"message-ttl": ttl}
    if j % 3 == 0:
        definition.update({"ha-mode": "exactly", "ha-params": 2, "ha-sync-mode": "automatic"})
    elif j % 3 == 1:
        definition["max-length"] = 10000 + j
    return fragment("RabbitPolicy", f"{t}-policy-{j:02d}", ns, t, {
        "vhost": "/",
        "name": f"bench-{j:02d}",
        "pattern": f"^bench-{j:02d}\\.",
        "applyTo": "queues",
        "priority": j,
        "definition": definition,
    })


def secret(name, ns, files):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns), "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in files.items()}}


def workload(kind, name, ns):
    labels = {"app.kubernetes.io/name": name}
    spec = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "main", "image": "registry.invalid/pause:1"}]}},
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
        # No pod: the rollout completes as soon as kube-controller-manager has seen the new
        # template (the DaemonSets have no node to run on).
        spec["replicas"] = 0
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, ns), "spec": spec}


def nova_target(t, ns, i):
    kc = {"apiVersion": GROUP, "kind": "KollaConfig", "metadata": meta(t, ns), "spec": {
        "service": "nova-compute",
        "base": {"secretRef": {"name": f"{t}-kolla"}},
        "rollout": [{"kind": "DaemonSet", "name": t}],
    }}
    frags = [
        fragment("NovaComputePolicy", f"{t}-compute", ns, t, {
            "ramAllocationRatio": [1.0, 1.2, 1.5][i % 3], "cpuAllocationRatio": 2.0,
            "maxConcurrentBuilds": 4, "reservedHostMemoryMb": 4096}),
        fragment("NovaVifPolicy", f"{t}-vif", ns, t, {
            "vifPluggingIsFatal": False, "vifPluggingTimeout": 300}),
        fragment("OsloMessagingPolicy", f"{t}-oslo", ns, t, {
            "heartbeatTimeoutThreshold": 30, "heartbeatRate": 3}),
    ] + [nova_override(t, ns, j) for j in range(17)]
    return {"ns": ns, "name": t, "service": "nova-compute", "kc": kc, "fragments": frags,
            "base": secret(f"{t}-kolla", ns, NOVA_BASE), "workload": workload("DaemonSet", t, ns)}


def rabbit_target(t, ns, i):
    kc = {"apiVersion": GROUP, "kind": "KollaConfig", "metadata": meta(t, ns), "spec": {
        "service": "rabbitmq",
        "base": {"secretRef": {"name": f"{t}-kolla"}},
        "rollout": [{"kind": "StatefulSet", "name": t}],
        "rabbitmq": {"version": "3.13"},
    }}
    frags = [
        fragment("ErlangVmArgs", f"{t}-vmargs", ns, t, {
            "schedulerBusyWait": "none", "schedulerUtilizationBalancing": True}),
        fragment("RabbitListenerPolicy", f"{t}-listener", ns, t, {
            "heartbeatSeconds": 60, "tcpKeepalive": True}),
        fragment("ConfigOverride", f"{t}-conf", ns, t, {
            "file": "rabbitmq.conf", "conf": {"collect_statistics_interval": "10000"}}),
        fragment("ConfigOverride", f"{t}-env", ns, t, {
            "file": "rabbitmq-env.conf", "env": {"RABBITMQ_LOG_BASE": "/var/log/kolla/rabbitmq-bench"}}),
    ] + [rabbit_policy(t, ns, j) for j in range(16)]
    return {"ns": ns, "name": t, "service": "rabbitmq", "kc": kc, "fragments": frags,
            "base": secret(f"{t}-kolla", ns, RABBIT_BASE), "workload": workload("StatefulSet", t, ns)}


def dataset(namespaces, nova_per_ns, rabbit_per_ns):
    targets = []
    for ns in namespaces:
        for i in range(nova_per_ns):
            targets.append(nova_target(f"nova-compute-{i:03d}", ns, i))
        for i in range(rabbit_per_ns):
            targets.append(rabbit_target(f"rabbitmq-{i:02d}", ns, i))
    return targets


def content_hash(files):
    """kollacfg.dev/content-hash: SHA-256 over name-sorted, length-prefixed files."""
    h = hashlib.sha256()
    for name in sorted(files):
        n, c = name.encode(), files[name]
        h.update(len(n).to_bytes(8, "big") + n + len(c).to_bytes(8, "big") + c)
    return h.hexdigest()


def render_offline(kollacfg, targets, work):
    """Renders each target with `kollacfg render`; returns {(ns, name): content hash}."""
    os.makedirs(work, exist_ok=True)

    def one(t):
        d = os.path.join(work, t["ns"], t["name"])
        os.makedirs(d, exist_ok=True)
        src = os.path.join(d, "resources.yaml")
        with open(src, "w") as f:
            f.write("\n---\n".join(json.dumps(o) for o in [t["kc"]] + t["fragments"]) + "\n")
        out = os.path.join(d, "out")
        r = subprocess.run([kollacfg, "render", "-f", src, "--base", BASE_DIR, "--out", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kollacfg render {src}: {r.stderr}")
        sdir = os.path.join(out, t["service"])
        files = {f: open(os.path.join(sdir, f), "rb").read() for f in os.listdir(sdir)}
        return (t["ns"], t["name"] + "-config"), content_hash(files)

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, targets))


def load(api, targets, threads=8):
    """Creates namespaces, base Secrets, workloads, fragments, then the KollaConfigs."""
    for ns in sorted({t["ns"] for t in targets}):
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    objs = [t["base"] for t in targets] + [t["workload"] for t in targets]
    objs += [f for t in targets for f in t["fragments"]]
    objs += [t["kc"] for t in targets]
    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(api.apply, objs))
    return len(objs), time.monotonic() - start


def delete_all(api, ns):
    kinds = list(PLURALS) + ["Secret", "DaemonSet", "StatefulSet", "Event"]
    for kind in kinds:
        api.request("DELETE", collection_path(kind, ns), ok=(200, 202))


# --- watching the outputs -----------------------------------------------------------------


class OutputWatch(threading.Thread):
    """Watches every Secret labelled managed-by=kollacfg; keeps (hash, data, time seen)."""

    def __init__(self, api):
        super().__init__(daemon=True)
        self.api = api
        self.cond = threading.Condition()
        self.state = {}  # (ns, name) -> (hash, data, monotonic time of the event)
        self.stop = False
        lst = api.list("/api/v1/secrets", MANAGED)
        now = time.monotonic()
        for s in lst["items"]:
            self._record(s, now)
        self.rv = lst["metadata"]["resourceVersion"]

    def _record(self, s, t):
        md = s["metadata"]
        h = (md.get("annotations") or {}).get(HASH_ANNOTATION)
        self.state[(md["namespace"], md["name"])] = (h, s.get("data") or {}, t)

    def run(self):
        while not self.stop:
            q = urllib.parse.urlencode({"watch": "1", "labelSelector": MANAGED,
                                        "resourceVersion": self.rv, "timeoutSeconds": "1800",
                                        "allowWatchBookmarks": "true"})
            conn = self.api.connect(timeout=None)
            try:
                conn.request("GET", "/api/v1/secrets?" + q,
                             headers={"Authorization": "Bearer " + self.api.token})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise RuntimeError(f"watch: {resp.status} {resp.read()[:300]!r}")
                while not self.stop:
                    line = resp.readline()
                    if not line:
                        break
                    t = time.monotonic()
                    ev = json.loads(line)
                    obj = ev["object"]
                    if ev["type"] == "ERROR":
                        raise RuntimeError(f"watch error: {obj}")
                    self.rv = obj["metadata"]["resourceVersion"]
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        with self.cond:
                            self._record(obj, t)
                            self.cond.notify_all()
                    elif ev["type"] == "DELETED":
                        with self.cond:
                            self.state.pop((obj["metadata"]["namespace"], obj["metadata"]["name"]), None)
                            self.cond.notify_all()
            except Exception as e:  # noqa: BLE001 - report and re-list
                if not self.stop:
                    log(f"  (output watch restarted: {e})")
                    lst = self.api.list("/api/v1/secrets", MANAGED)
                    with self.cond:
                        now = time.monotonic()
                        for s in lst["items"]:
                            self._record(s, now)
                        self.rv = lst["metadata"]["resourceVersion"]
                        self.cond.notify_all()
            finally:
                conn.close()

    def wait(self, predicate, timeout):
        """Waits until predicate(state) is true; returns the latest event time among the
        entries it names (predicate returns a list of keys) or None on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                keys = predicate(self.state)
                if keys is not None:
                    return max((self.state[k][2] for k in keys), default=time.monotonic())
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))


# --- the controller process ---------------------------------------------------------------


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Controller:
    def __init__(self, kollacfg, env, work, tag):
        self.port = free_port()
        self.log_path = os.path.join(work, f"controller-{tag}.log")
        e = dict(os.environ)
        # SETTLE_MS (default 0): `kollacfg run --settle-ms`. The edits measured here restart
        # workloads; with the default window (2000 ms) each would be written 2 s after it was
        # made, by design (one restart per burst). 0 measures the engine and the API path.
        e.update({"KUBECONFIG": env["KUBE_CONTROLLER_KUBECONFIG"],
                  "RUST_LOG": os.environ.get("CONTROLLER_RUST_LOG", "info"),
                  "KOLLACFG_SETTLE_MS": os.environ.get("SETTLE_MS", "0")})
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            [kollacfg, "run", "--metrics-addr", f"127.0.0.1:{self.port}"],
            env=e, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        with open(os.path.join(work, "controller.pid"), "w") as f:
            f.write(str(self.proc.pid))

    def http(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode()
        finally:
            conn.close()

    def wait_ready(self, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if self.http("/readyz")[0] == 200:
                    return time.monotonic()
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("controller not ready")

    def metrics(self):
        text = self.http("/metrics")[1]
        out = {"reconciles": 0, "failures": 0, "writes": {}, "echoes_ignored": 0}
        for line in text.splitlines():
            if line.startswith("kollacfg_reconciles_total "):
                out["reconciles"] = int(float(line.split()[1]))
            elif line.startswith("kollacfg_reconcile_duration_seconds_sum "):
                out["duration_sum_s"] = float(line.split()[1])
            elif line.startswith("kollacfg_reconcile_duration_seconds_count "):
                out["duration_count"] = int(float(line.split()[1]))
            elif line.startswith("kollacfg_reconcile_failures_total{"):
                out["failures"] += int(float(line.split()[-1]))
            elif line.startswith("kollacfg_watch_echoes_ignored_total{"):
                out["echoes_ignored"] += int(float(line.split()[-1]))
            elif line.startswith("kollacfg_api_writes_total{"):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
                out["writes"][f"{labels['kind']}/{labels['write']}"] = int(float(line.split()[-1]))
        return out

    def proc_status(self):
        st = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    st[k] = int(v.split()[0])  # KiB
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        st["cpu_s"] = (int(fields[11]) + int(fields[12])) / tick
        return st

    def wait_idle(self, min_reconciles, quiet=3.0, timeout=600):
        """Waits until at least min_reconciles reconciles ran and the counters (reconciles
        and writes) did not move for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            m = self.metrics()
            key = (m["reconciles"], json.dumps(m["writes"], sort_keys=True))
            if key != last:
                last, since = key, time.monotonic()
            elif m["reconciles"] >= min_reconciles and time.monotonic() - since >= quiet:
                return m
            time.sleep(0.2)
        raise RuntimeError(f"controller not idle: {last}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- measurements -------------------------------------------------------------------------


def cpu_seconds(pid):
    """user + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(env):
    return {"kube-apiserver": cpu_seconds(int(env["KUBE_APISERVER_PID"])),
            "etcd": cpu_seconds(int(env["ETCD_PID"]))}


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def snapshot(api, namespaces):
    """resourceVersion of every output, workload and custom resource in namespaces."""
    rv = {}
    for ns in namespaces:
        for kind in list(PLURALS) + ["DaemonSet", "StatefulSet"]:
            for o in api.list(collection_path(kind, ns))["items"]:
                rv[(kind, ns, o["metadata"]["name"])] = o["metadata"]["resourceVersion"]
        for o in api.list(collection_path("Secret", ns), MANAGED)["items"]:
            rv[("output Secret", ns, o["metadata"]["name"])] = o["metadata"]["resourceVersion"]
    return rv


def diff(before, after):
    changed = {}
    for k in set(before) | set(after):
        if before.get(k) != after.get(k):
            changed[k[0]] = changed.get(k[0], 0) + 1
    return changed


def write_delta(m0, m1):
    d = {k: v - m0["writes"].get(k, 0) for k, v in m1["writes"].items()}
    return {k: v for k, v in d.items() if v}


def statuses_settled(api, namespaces, count):
    ready = 0
    for ns in namespaces:
        for kc in api.list(collection_path("KollaConfig", ns))["items"]:
            st = kc.get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            if (st.get("observedGeneration") == kc["metadata"]["generation"]
                    and conds.get("Ready") == "True"):
                ready += 1
    return ready == count


def cold_start(args, env, api, watch, expected, namespaces, tag):
    """Starts the controller; returns it and the figures of its cold start."""
    la0 = loadavg()
    srv0 = server_cpu(env)
    ctl = Controller(args.kollacfg, env, args.work, tag)
    t_ready = ctl.wait_ready()
    ps_ready = ctl.proc_status()

    def all_written(state):
        for k, h in expected.items():
            if state.get(k, (None,))[0] != h:
                return None
        return list(expected)

    t_out = watch.wait(all_written, timeout=1800)
    if t_out is None:
        missing = [k for k, h in expected.items() if watch.state.get(k, (None,))[0] != h]
        raise RuntimeError(f"{len(missing)} outputs never reached their offline hash, e.g. {missing[:3]}")
    ps_out = ctl.proc_status()
    srv1 = server_cpu(env)
    # The annotation is the controller's word; check the stored bytes themselves once.
    with watch.cond:
        stored = {k: watch.state[k][1] for k in expected}
    for k, data in stored.items():
        got = content_hash({n: base64.b64decode(v) for n, v in data.items()})
        if got != expected[k]:
            raise RuntimeError(f"{k}: stored files hash {got}, offline render {expected[k]}")
    while not statuses_settled(api, namespaces, len(expected)):
        time.sleep(0.25)
    t_status = time.monotonic()
    m = ctl.wait_idle(len(expected))
    ps = ctl.proc_status()
    fig = {
        "targets": len(expected),
        "caches_filled_s": round(t_ready - ctl.start, 3),
        "rss_kib_at_caches_filled": ps_ready["VmRSS"],
        "all_outputs_s": round(t_out - ctl.start, 3),
        "all_statuses_ready_s": round(t_status - ctl.start, 3),
        "cpu_s_at_all_outputs": ps_out["cpu_s"],
        "cpu_s_when_idle": ps["cpu_s"],
        "server_cpu_s_at_all_outputs": {k: round(srv1[k] - srv0[k], 2) for k in srv0},
        "writes": m["writes"],
        "reconciles": m["reconciles"],
        "echoes_ignored": m["echoes_ignored"],
        "mean_reconcile_ms": round(1000 * m.get("duration_sum_s", 0) / max(1, m.get("duration_count", 0)), 1),
        "failures": m["failures"],
        "vmhwm_kib": ps["VmHWM"],
        "loadavg_start": la0,
        "loadavg_end": loadavg(),
    }
    log(f"  cold start ({len(expected)} KollaConfigs): caches filled {fig['caches_filled_s']} s, "
        f"every output byte-equal to the offline render at {fig['all_outputs_s']} s, "
        f"every status Ready at {fig['all_statuses_ready_s']} s (polled every 0.25 s)")
    log(f"  CPU until all outputs: controller {fig['cpu_s_at_all_outputs']} s, "
        f"{', '.join(f'{k} {v} s' for k, v in fig['server_cpu_s_at_all_outputs'].items())}; "
        f"{fig['reconciles']} reconciles (mean {fig['mean_reconcile_ms']} ms), {fig['failures']} failures, "
        f"{fig['echoes_ignored']} echoes of its own writes ignored; writes {fig['writes']}")
    log(f"  VmRSS when the caches were filled {ps_ready['VmRSS'] / 1024:.1f} MiB; "
        f"VmHWM when idle {ps['VmHWM'] / 1024:.1f} MiB; load average {' '.join(la0)} -> {' '.join(fig['loadavg_end'])}")
    return ctl, fig


def resync(api, ctl, targets, namespaces):
    """Touches every base Secret (an annotation only): every KollaConfig is reconciled again
    with unchanged inputs. Counts what the controller wrote."""
    m0 = ctl.wait_idle(0)
    before = snapshot(api, namespaces)
    stamp = str(time.time())
    la0 = loadavg()
    t0 = time.monotonic()
    touches = [{"apiVersion": "v1", "kind": "Secret",
                "metadata": dict(t["base"]["metadata"], annotations={"bench.kollacfg.dev/touch": stamp})}
               for t in targets]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda o: api.apply(o, manager="kollacfg-bench-touch"), touches))
    m1 = ctl.wait_idle(m0["reconciles"] + len(targets))
    took = time.monotonic() - t0
    after = snapshot(api, namespaces)
    fig = {"reconciles": m1["reconciles"] - m0["reconciles"],
           "writes_metric": write_delta(m0, m1), "rv_changed": diff(before, after),
           "objects_compared": len(before), "seconds_incl_quiet": round(took, 1),
           "loadavg_start": la0, "loadavg_end": loadavg()}
    log(f"  full resync: {fig['reconciles']} reconciles after touching {len(targets)} base Secrets; "
        f"controller writes {sum(fig['writes_metric'].values())} {fig['writes_metric'] or ''}; "
        f"resourceVersions changed: {sum(fig['rv_changed'].values())} of {len(before)} {fig['rv_changed'] or ''}")
    return fig


def restart(args, env, api, ctl, targets, namespaces):
    ps_old = ctl.proc_status()
    ctl.stop()
    before = snapshot(api, namespaces)
    la0 = loadavg()
    new = Controller(args.kollacfg, env, args.work, "restart")
    t_ready = new.wait_ready()
    m = new.wait_idle(len(targets))
    t_idle = time.monotonic() - 3.0  # wait_idle's quiet period
    after = snapshot(api, namespaces)
    fig = {"reconciles": m["reconciles"], "writes_metric": m["writes"],
           "rv_changed": diff(before, after), "objects_compared": len(before),
           "caches_filled_s": round(t_ready - new.start, 2),
           "all_reconciled_s": round(t_idle - new.start, 2),
           "first_process_vmhwm_kib": ps_old["VmHWM"], "first_process_cpu_s": ps_old["cpu_s"],
           "loadavg_start": la0, "loadavg_end": loadavg()}
    log(f"  restart: first process VmHWM {ps_old['VmHWM'] / 1024:.1f} MiB, CPU {ps_old['cpu_s']} s; "
        f"new process: caches filled {fig['caches_filled_s']} s, {fig['reconciles']} reconciles done "
        f"by ~{fig['all_reconciled_s']} s; controller writes {sum(m['writes'].values())} {m['writes'] or ''}; "
        f"resourceVersions changed: {sum(fig['rv_changed'].values())} of {len(before)} {fig['rv_changed'] or ''}")
    return new, fig


def percentile(xs, p):
    s = sorted(xs)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    if k == lo or s[lo] == s[hi]:
        return s[lo]
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def edit_latency(api, watch, targets, samples, seed, gap, miss_after=10.0):
    rng = random.Random(seed)
    lat = []
    missed = []
    la0 = loadavg()
    for i in range(samples):
        t = rng.choice(targets)
        key = (t["ns"], t["name"] + "-config")
        if t["service"] == "nova-compute":
            j = rng.randrange(17)
            obj = nova_override(t["name"], t["ns"], j, edit=i)
            needle = f"= edit-{i}".encode()
            fname = "nova.conf"
        else:
            j = rng.randrange(16)
            obj = rabbit_policy(t["name"], t["ns"], j, edit=i)
            needle = f'"message-ttl":{100000 + i}'.encode()
            fname = "definitions.json"
        old = watch.state[key][0]

        def reflected(state, key=key, old=old, needle=needle, fname=fname):
            h, data, _ = state.get(key, (None, {}, 0))
            if h == old or fname not in data:
                return None
            if needle not in base64.b64decode(data[fname]).replace(b'": ', b'":'):
                return None
            return [key]

        t0 = time.monotonic()
        api.apply(obj)
        t1 = watch.wait(reflected, timeout=miss_after)
        if t1 is None:
            # Not reflected: counted as a miss (infinite latency), and the run goes on.
            missed.append(f"edit {i}: {t['ns']}/{obj['metadata']['name']} -> {key[1]}")
            log(f"  MISS: edit {i} of {t['ns']}/{obj['metadata']['name']} not in {key[1]} "
                f"after {miss_after} s")
        else:
            lat.append(t1 - t0)
        time.sleep(gap)
    # Misses count as infinitely late in the percentiles.
    full = lat + [float("inf")] * len(missed)
    fig = {"samples": len(full), "missed": len(missed), "missed_edits": missed,
           "p50_ms": round(percentile(full, 50) * 1000, 1),
           "p90_ms": round(percentile(full, 90) * 1000, 1),
           "p99_ms": round(percentile(full, 99) * 1000, 1),
           "p99_ms_reflected_only": round(percentile(lat, 99) * 1000, 1),
           "min_ms": round(min(lat) * 1000, 1), "max_ms": round(max(lat) * 1000, 1),
           "mean_ms": round(sum(lat) / len(lat) * 1000, 1),
           "loadavg_start": la0, "loadavg_end": loadavg()}
    log(f"  edit -> output latency, {fig['samples']} samples, {len(missed)} not reflected "
        f"within {miss_after} s (counted as infinite): p50 {fig['p50_ms']} ms, "
        f"p90 {fig['p90_ms']} ms, p99 {fig['p99_ms']} ms (min {fig['min_ms']}, max of the reflected {fig['max_ms']}); "
        f"load average {' '.join(la0)} -> {' '.join(fig['loadavg_end'])}")
    return fig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--kollacfg", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--samples", type=int, default=150)
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between edits")
    ap.add_argument("--json")
    ap.add_argument("--skip-small", action="store_true")
    args = ap.parse_args()

    env = {}
    for line in open(args.env):
        m = re.match(r"^(\w+)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = subprocess.run(["bash", "-c", f"printf %s {m.group(2)}"],
                                             capture_output=True, text=True).stdout
    api = Api(env["KUBE_API_SERVER"], env["KUBE_ADMIN_TOKEN"])
    results = {}
    ctl = None
    try:
        watch = OutputWatch(api)
        watch.start()

        if not args.skip_small:
            log("== 1,000 fragments: 50 KollaConfigs (45 nova-compute, 5 rabbitmq) in bench-1k")
            small = dataset(["bench-1k"], 45, 5)
            expected = render_offline(args.kollacfg, small, os.path.join(args.work, "offline-1k"))
            n, took = load(api, small)
            log(f"  loaded {n} objects ({sum(len(t['fragments']) for t in small)} fragments) in {took:.1f} s")
            ctl, fig = cold_start(args, env, api, watch, expected, ["bench-1k"], "1k")
            results["small_cold_start"] = fig
            results["small_edit"] = edit_latency(api, watch, small, args.samples, 1, args.gap)
            m = ctl.wait_idle(0)
            results["small_vmhwm_kib"] = ctl.proc_status()["VmHWM"]
            log(f"  VmHWM after the edits {results['small_vmhwm_kib'] / 1024:.1f} MiB; writes {m['writes']}")
            ctl.stop()
            ctl = None
            delete_all(api, "bench-1k")
            with watch.cond:
                watch.cond.wait_for(lambda: not any(k[0] == "bench-1k" for k in watch.state), 60)

        namespaces = [f"bench-cell-{i}" for i in range(1, 6)]
        log("== 10,000 fragments: 500 KollaConfigs (450 nova-compute, 50 rabbitmq) in "
            + ", ".join(namespaces))
        large = dataset(namespaces, 90, 10)
        expected = render_offline(args.kollacfg, large, os.path.join(args.work, "offline-10k"))
        n, took = load(api, large)
        log(f"  loaded {n} objects ({sum(len(t['fragments']) for t in large)} fragments) in {took:.1f} s")
        ctl, fig = cold_start(args, env, api, watch, expected, namespaces, "10k")
        results["large_cold_start"] = fig
        results["large_resync"] = resync(api, ctl, large, namespaces)
        ctl, fig = restart(args, env, api, ctl, large, namespaces)
        results["large_restart"] = fig
        results["large_edit"] = edit_latency(api, watch, large, args.samples, 2, args.gap)
        m = ctl.wait_idle(0)
        ps = ctl.proc_status()
        results["large_restarted_vmhwm_kib"] = ps["VmHWM"]
        log(f"  restarted process after the edits: VmHWM {ps['VmHWM'] / 1024:.1f} MiB, "
            f"VmRSS {ps['VmRSS'] / 1024:.1f} MiB, CPU {ps['cpu_s']} s")
        peak = max(results["large_restart"]["first_process_vmhwm_kib"], ps["VmHWM"])
        results["large_peak_rss_kib"] = peak
        log(f"  peak RSS (VmHWM, largest of the two 10k processes): {peak / 1024:.1f} MiB")
    finally:
        if ctl is not None:
            ctl.stop()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
