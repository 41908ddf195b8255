#!/usr/bin/python3
"""Live-broker benchmark: `kollacfg broker sync` against a real RabbitMQ 3.10 node.

Boots a private node (Debian's rabbitmq-server, management API on loopback), declares VHOSTS
vhosts and QUEUES durable queues through the HTTP API, then times with the given kollacfg
binary:

  1. the first sync of POLICIES policies (one per queue, spread over the vhosts);
  2. a pass with nothing changed;
  3. SMALL policies changed;
  4. every policy changed;
  5. the restart path for the SMALL change: the same inputs rendered into definitions.json,
     the node stopped and started with `load_definitions` pointing at it, timed until the
     node is up and lists the changed policies.

For each: wall time, the requests kollacfg sent (1 GET + its writes, from its summary line)
and the broker's CPU seconds (utime + stime of beam.smp from /proc, before and after).
Runs as root (rabbitmq-server switches to the rabbitmq user). Prints a Markdown table.

usage: bench/broker/bench.py KOLLACFG_BINARY [WORKDIR]
env: VHOSTS (10), QUEUES (10000), POLICIES (= QUEUES), SMALL (100); IMPORT_FIRST=1 puts the
policies in place by a restart with the rendered file instead (boot-time import, timed), then
runs only the nothing-changed and SMALL-changed passes. QUEUES_AFTER=1 makes the first sync
before any queue is declared (so that it costs the broker little: each policy write re-checks
the queues of its vhost), then declares the queues and runs the nothing-changed and
all-changed passes (then the restart path). PROGRESS=SECONDS prints, that often during each
pass, how many policies the node has as wanted and the broker's CPU seconds so far.
"""

import base64
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

VHOSTS = int(os.environ.get("VHOSTS", "10"))
QUEUES = int(os.environ.get("QUEUES", "10000"))
POLICIES = int(os.environ.get("POLICIES", str(QUEUES)))
SMALL = int(os.environ.get("SMALL", "100"))
PROGRESS = float(os.environ.get("PROGRESS", "0"))
NODE = "rabbit@localhost"
USER, PASSWORD = "bench", "bench-pw-7Hq2"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, work):
        self.work = work
        self.ports = {k: free_port() for k in ("epmd", "dist", "amqp", "mgmt")}
        for sub in ("mnesia", "log"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        self.env_file = os.path.join(work, "rabbitmq-env.conf")
        with open(self.env_file, "w") as f:
            f.write(
                f"NODENAME={NODE}\nRABBITMQ_NODENAME={NODE}\n"
                f"RABBITMQ_MNESIA_BASE={work}/mnesia\nRABBITMQ_LOG_BASE={work}/log\n"
                f"RABBITMQ_PID_FILE={work}/rabbit.pid\n"
                f"RABBITMQ_ENABLED_PLUGINS_FILE={work}/enabled_plugins\n"
                f"RABBITMQ_DIST_PORT={self.ports['dist']}\n"
                "export ERL_EPMD_ADDRESS=127.0.0.1\n"
                f"export ERL_EPMD_PORT={self.ports['epmd']}\n"
                'RABBITMQ_SERVER_START_ARGS="$RABBITMQ_SERVER_START_ARGS -kernel inet_dist_use_interface {127,0,0,1}"\n'
                'RABBITMQ_CTL_ERL_ARGS="$RABBITMQ_CTL_ERL_ARGS -kernel inet_dist_use_interface {127,0,0,1}"\n'
            )
        with open(os.path.join(work, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_management].\n")
        self.child = None

    def write_conf(self, definitions=None):
        conf = os.path.join(self.work, "rabbitmq.conf")
        with open(conf, "w") as f:
            f.write(
                f"listeners.tcp.1 = 127.0.0.1:{self.ports['amqp']}\n"
                f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.ports['mgmt']}\n"
            )
            if definitions:
                f.write(f"load_definitions = {definitions}\n")
        return conf

    def start(self, definitions=None):
        conf = self.write_conf(definitions)
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", self.work], check=True)
        env = dict(os.environ, RABBITMQ_CONF_ENV_FILE=self.env_file, RABBITMQ_CONFIG_FILE=conf)
        out = open(os.path.join(self.work, "server.out"), "ab")
        self.child = subprocess.Popen(
            ["/usr/sbin/rabbitmq-server"], env=env, stdout=out, stderr=out,
            stdin=subprocess.DEVNULL, cwd=self.work)
        while True:
            if self.child.poll() is not None:
                sys.exit(f"rabbitmq-server exited; see {self.work}/server.out")
            r = self.ctl(["await_startup", "--timeout", "5"], check=False)
            if r.returncode == 0:
                return
            time.sleep(0.5)

    def ctl(self, args, check=True):
        env = dict(os.environ, RABBITMQ_CONF_ENV_FILE=self.env_file)
        return subprocess.run(["/usr/sbin/rabbitmqctl", "-q", "-n", NODE] + args, env=env,
                              check=check, capture_output=True, text=True)

    def stop(self):
        self.ctl(["stop"], check=False)
        if self.child:
            self.child.wait(timeout=120)
            self.child = None

    def kill_epmd(self):
        subprocess.run(["epmd", "-port", str(self.ports["epmd"]), "-kill"],
                       capture_output=True)

    def beam_pid(self):
        """The node's beam.smp: a descendant of our rabbitmq-server process (other nodes, and
        other Erlang programs, may run on the machine)."""
        if self.child is None:
            return None
        ps = subprocess.run(["ps", "-eo", "pid=,ppid=,comm="], capture_output=True,
                            text=True).stdout
        parent, beams = {}, []
        for line in ps.splitlines():
            pid, ppid, comm = line.split(None, 2)
            parent[int(pid)] = int(ppid)
            if comm.strip() == "beam.smp":
                beams.append(int(pid))
        for pid in beams:
            up = pid
            while up > 1:
                if up == self.child.pid:
                    return pid
                up = parent.get(up, 0)
        return None

    def cpu_seconds(self):
        pid = self.beam_pid()
        if pid is None:
            return 0.0
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def url(self):
        return f"http://127.0.0.1:{self.ports['mgmt']}"


def start_with_user(node):
    """Boots the node and adds USER, tagged administrator."""
    node.start()
    node.ctl(["add_user", USER, PASSWORD])
    node.ctl(["set_user_tags", USER, "administrator"])


def api(port, method, path, body=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    if own:
        conn.close()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:200]}")
    return data


def vhost(i):
    return f"v{i}"


def add_vhost(port, name):
    """Creates vhost `name` and gives USER every right on it."""
    api(port, "PUT", f"/api/vhosts/{name}", {})
    api(port, "PUT", f"/api/permissions/{name}/{USER}",
        {"configure": ".*", "write": ".*", "read": ".*"})


def declare_queues(port, queues, workers=4):
    """Declares durable queues, given as (vhost, name) pairs, over `workers` connections."""
    def batch(part):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for v, name in part:
            api(port, "PUT", f"/api/queues/{v}/{name}", {"durable": True}, conn)
        conn.close()

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(batch, [queues[w::workers] for w in range(workers)]))


def declare(node, vhosts=True, queues=True):
    """VHOSTS vhosts and QUEUES queues: queue i is `q{i:05d}` in vhost i % VHOSTS."""
    port = node.ports["mgmt"]
    if vhosts:
        for v in range(VHOSTS):
            add_vhost(port, vhost(v))
    if queues:
        declare_queues(port, [(vhost(i % VHOSTS), f"q{i:05d}") for i in range(QUEUES)])


class Progress(threading.Thread):
    """Every PROGRESS seconds, how many of the POLICIES policies the node has with their
    expected message-ttl (one GET /api/policies), with the broker's CPU seconds so far."""

    def __init__(self, node, expected, interval):
        super().__init__(daemon=True)
        self.node, self.expected, self.interval = node, expected, interval
        self.done = threading.Event()

    def run(self):
        t0, cpu0 = time.monotonic(), self.node.cpu_seconds()
        while not self.done.wait(self.interval):
            conn = http.client.HTTPConnection("127.0.0.1", self.node.ports["mgmt"], timeout=600)
            live = json.loads(api(self.node.ports["mgmt"], "GET", "/api/policies", conn=conn))
            conn.close()
            have = sum(1 for p in live if re.fullmatch(r"p\d{5}", p["name"])
                       and p["definition"].get("message-ttl") == self.expected(int(p["name"][1:])))
            load = " ".join(open("/proc/loadavg").read().split()[:3])
            print(f"  progress: {time.monotonic() - t0:.0f} s: {have} of {POLICIES} policies "
                  f"as wanted; broker CPU {self.node.cpu_seconds() - cpu0:.1f} s; load {load}",
                  flush=True)


def inputs(directory, ttl_of):
    """KollaConfig + POLICIES RabbitPolicies; policy i matches queue i (ttl from ttl_of(i))."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    docs = ["apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n"
            "metadata: {name: rabbitmq, namespace: openstack}\nspec: {service: rabbitmq}\n"]
    for i in range(POLICIES):
        docs.append(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: RabbitPolicy\n"
            f"metadata: {{name: p{i:05d}, namespace: openstack}}\n"
            "spec:\n  kollaConfigRef: {name: rabbitmq}\n"
            f"  vhost: {vhost(i % VHOSTS)}\n  pattern: '^q{i:05d}$'\n  applyTo: queues\n"
            f"  definition: {{message-ttl: {ttl_of(i)}}}\n")
    with open(os.path.join(directory, "policies.yaml"), "w") as f:
        f.write("---\n".join(docs))
    return directory


def sync(kollacfg, node, directory, password_file, expected=None):
    progress = None
    if expected and PROGRESS > 0:
        progress = Progress(node, expected, PROGRESS)
        progress.start()
    cpu0, t0 = node.cpu_seconds(), time.monotonic()
    r = subprocess.run([kollacfg, "broker", "sync", "-f", directory, "--url", node.url(),
                        "--user", USER, "--password-file", password_file],
                       capture_output=True, text=True)
    wall, cpu = time.monotonic() - t0, node.cpu_seconds() - cpu0
    if progress:
        progress.done.set()
    if r.returncode != 0:
        sys.exit(f"sync failed ({r.returncode}): {r.stderr[-2000:]}")
    summary = r.stdout.strip().splitlines()[-1]
    m = re.search(r": (\d+) put, (\d+) deleted, (\d+) refused", summary)
    put, deleted = int(m.group(1)), int(m.group(2))
    return {"wall": wall, "cpu": cpu, "requests": 1 + put + deleted, "writes": put + deleted,
            "summary": summary}


def ttl_matches(node, expected):
    """Whether every policy's message-ttl on the node is expected(i)."""
    seen = 0
    for v in range(VHOSTS):
        out = node.ctl(["list_policies", "-p", vhost(v), "--formatter", "json"]).stdout
        for row in json.loads(out):
            i = int(row["name"][1:])
            if json.loads(row["definition"]).get("message-ttl") != expected(i):
                return False
            seen += 1
    return seen == POLICIES


def restart_with(kollacfg, node, work, ttl):
    """Renders the inputs for `ttl`, stops the node and starts it with them as
    load_definitions; returns (seconds until it lists them, stop seconds, CPU of the new node)."""
    d = inputs(os.path.join(work, "inputs"), ttl)
    out = os.path.join(work, "rendered")
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([kollacfg, "render", "-f", d, "--out", out], check=True, capture_output=True)
    definitions = os.path.join(work, "definitions.json")
    shutil.copy(os.path.join(out, "rabbitmq", "definitions.json"), definitions)
    os.chmod(definitions, 0o644)
    t0 = time.monotonic()
    node.stop()
    stopped = time.monotonic() - t0
    node.start(definitions)
    while True:
        checked = time.monotonic() - t0
        if ttl_matches(node, ttl):
            break
        time.sleep(0.5)
    return checked, stopped, node.cpu_seconds()


def import_first(kollacfg, node, work, password_file, base_ttl, small_ttl):
    """POLICIES policies put in place by the restart path (boot-time import), then the live
    passes: nothing changed, SMALL changed."""
    imported, stopped, cpu = restart_with(kollacfg, node, work, base_ttl)
    print(f"restart path, {POLICIES} policies imported at boot: {imported:.1f} s "
          f"(stop {stopped:.1f} s), new node CPU {cpu:.2f} s", flush=True)
    for label, ttl in [("nothing changed", base_ttl), (f"{SMALL} policies changed", small_ttl)]:
        d = inputs(os.path.join(work, "inputs"), ttl)
        result = sync(kollacfg, node, d, password_file)
        assert ttl_matches(node, ttl), f"{label}: the node does not list the policies"
        print(f"{label}: {result}", flush=True)


def main():
    kollacfg = os.path.abspath(sys.argv[1])
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="kollacfg-broker-bench-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    node = Node(os.path.join(work, "node"))
    rows = []
    try:
        t0 = time.monotonic()
        start_with_user(node)
        boot = time.monotonic() - t0
        password_file = os.path.join(work, "password")
        with open(password_file, "w") as f:
            f.write(PASSWORD + "\n")
        base_ttl = lambda i: 60000
        queues_after = os.environ.get("QUEUES_AFTER") == "1"
        t0 = time.monotonic()
        declare(node, queues=not queues_after)
        if queues_after:
            # The policies first, while no queue exists: each write then re-checks nothing.
            d = inputs(os.path.join(work, "inputs"), base_ttl)
            result = sync(kollacfg, node, d, password_file)
            rows.append((f"first sync: {POLICIES} new policies, no queue declared yet", result))
            print(f"{rows[-1][0]}: {result}", flush=True)
            t0 = time.monotonic()
            declare(node, vhosts=False)
        declared = time.monotonic() - t0
        print(f"node up in {boot:.1f} s; {VHOSTS} vhosts and {QUEUES} queues declared in "
              f"{declared:.1f} s", flush=True)

        small_ttl = lambda i: 120000 if i < SMALL else 60000
        all_ttl = lambda i: 180000
        if os.environ.get("IMPORT_FIRST") == "1":
            import_first(kollacfg, node, work, password_file, base_ttl, small_ttl)
            return
        steps = [
            (f"first sync: {POLICIES} new policies", base_ttl),
            ("nothing changed", base_ttl),
            (f"{SMALL} policies changed", small_ttl),
            (f"all {POLICIES} policies changed", all_ttl),
        ]
        if queues_after:
            steps = steps[1:2] + steps[3:]
        for label, ttl in steps:
            d = inputs(os.path.join(work, "inputs"), ttl)
            result = sync(kollacfg, node, d, password_file, ttl)
            assert ttl_matches(node, ttl), f"{label}: the node does not list the policies"
            rows.append((label, result))
            print(f"{label}: {result}", flush=True)

        # The restart path for the SMALL change, from the all-changed state: render the file,
        # stop the node, start it with load_definitions, until it lists the changed policies.
        d = inputs(os.path.join(work, "inputs"), small_ttl)
        out = os.path.join(work, "rendered")
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([kollacfg, "render", "-f", d, "--out", out], check=True,
                       capture_output=True)
        definitions = os.path.join(work, "definitions.json")
        shutil.copy(os.path.join(out, "rabbitmq", "definitions.json"), definitions)
        os.chmod(definitions, 0o644)
        t0 = time.monotonic()
        cpu_before_stop = node.cpu_seconds()
        node.stop()
        stopped = time.monotonic() - t0
        node.start(definitions)
        up = time.monotonic() - t0
        cpu_boot = node.cpu_seconds()
        # The node imports the file while it boots; the first check that passes bounds the
        # import time from above (each check lists every vhost's policies).
        while True:
            checked = time.monotonic() - t0
            if ttl_matches(node, small_ttl):
                break
            time.sleep(0.5)
        imported = checked
        cpu = node.cpu_seconds()
        restart = {"wall": imported, "stopped": stopped, "up": up, "cpu_new_node": cpu,
                   "cpu_new_node_at_up": cpu_boot, "cpu_old_node_total": cpu_before_stop}
        print(f"restart path: {restart}", flush=True)

        print()
        print("| step | wall time | requests sent | writes | broker CPU s |")
        print("|---|---|---|---|---|")
        for label, r in rows:
            print(f"| {label} | {r['wall']:.2f} s | {r['requests']} | {r['writes']} | "
                  f"{r['cpu']:.2f} |")
        print(f"| restart path, {SMALL} policies changed: stop {stopped:.1f} s, "
              f"up {up:.1f} s, imported | {imported:.2f} s | - | - | "
              f"{cpu:.2f} (new node, until imported) |")
    finally:
        node.stop()
        node.kill_epmd()


if __name__ == "__main__":
    main()
