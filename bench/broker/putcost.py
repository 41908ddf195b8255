#!/usr/bin/python3
"""What one policy write costs RabbitMQ 3.10, by policies already in the vhost, and whether one
`POST /api/definitions/{vhost}` carrying many policies costs it less than one PUT each.

For each P in PER_VHOST, a vhost of its own gets P policies first (policy i is `^q{i:05d}$`,
applyTo queues, message-ttl; written while the vhost has no queue, so they cost little), then
QUEUES_PER_VHOST durable queues (`q00000`...; policy i matches queue i). Then, with the
broker otherwise idle:

  1. WRITES policies changed one by one (`PUT /api/policies/{vhost}/p{i}`, one keep-alive
     connection), each timed;
  2. the same WRITES policies changed again in one `POST /api/definitions/{vhost}`.

For each: wall time and the broker's CPU seconds (utime + stime of beam.smp from /proc), and
the idle CPU rate of the node measured just before (management statistics keep it busy a
little). A last row does step 1 in a vhost with the largest P and no queue at all.

Standard library only; runs as root (rabbitmq-server switches to the rabbitmq user); reuses
bench.py's node. Prints a Markdown table.

usage: bench/broker/putcost.py [WORKDIR]
env: PER_VHOST (100,1000,2000), QUEUES_PER_VHOST (1000), WRITES (10)
"""

import http.client
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (bench.py, beside this file)

PER_VHOST = [int(p) for p in os.environ.get("PER_VHOST", "100,1000,2000").split(",")]
QUEUES_PER_VHOST = int(os.environ.get("QUEUES_PER_VHOST", "1000"))
WRITES = int(os.environ.get("WRITES", "10"))


def policy(i, ttl):
    return {"pattern": f"^q{i:05d}$", "apply-to": "queues", "priority": 0,
            "definition": {"message-ttl": ttl}}


def idle_rate(node, seconds=5.0):
    """The node's CPU seconds per second while nothing is asked of it."""
    cpu0, t0 = node.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (node.cpu_seconds() - cpu0) / (time.monotonic() - t0)


def fill(node, vh, policies, queues):
    port = node.ports["mgmt"]
    bench.add_vhost(port, vh)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.monotonic()
    for i in range(policies):
        bench.api(port, "PUT", f"/api/policies/{vh}/p{i:05d}", policy(i, 60000), conn)
    filled = time.monotonic() - t0
    conn.close()
    t0 = time.monotonic()
    bench.declare_queues(port, [(vh, f"q{i:05d}") for i in range(queues)])
    return filled, time.monotonic() - t0


def puts(node, vh, ttl):
    """WRITES PUTs, one at a time; (per-PUT walls, total wall, CPU)."""
    port = node.ports["mgmt"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    walls = []
    cpu0, t0 = node.cpu_seconds(), time.monotonic()
    for i in range(WRITES):
        s = time.monotonic()
        bench.api(port, "PUT", f"/api/policies/{vh}/p{i:05d}", policy(i, ttl), conn)
        walls.append(time.monotonic() - s)
    wall, cpu = time.monotonic() - t0, node.cpu_seconds() - cpu0
    conn.close()
    return walls, wall, cpu


def batch(node, vh, ttl):
    """The same WRITES policies in one POST /api/definitions/{vh}; (wall, CPU)."""
    body = {"policies": [dict(policy(i, ttl), name=f"p{i:05d}") for i in range(WRITES)]}
    conn = http.client.HTTPConnection("127.0.0.1", node.ports["mgmt"], timeout=3600)
    cpu0, t0 = node.cpu_seconds(), time.monotonic()
    bench.api(node.ports["mgmt"], "POST", f"/api/definitions/{vh}", body, conn)
    wall, cpu = time.monotonic() - t0, node.cpu_seconds() - cpu0
    conn.close()
    return wall, cpu


def check(node, vh, ttl):
    got = json.loads(bench.api(node.ports["mgmt"], "GET", f"/api/policies/{vh}"))
    ttls = {p["name"]: p["definition"].get("message-ttl") for p in got}
    wrong = [f"p{i:05d}" for i in range(WRITES) if ttls.get(f"p{i:05d}") != ttl]
    if wrong:
        sys.exit(f"{vh}: {wrong[:5]} do not have message-ttl {ttl}")


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="kollacfg-putcost-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    node = bench.Node(os.path.join(work, "node"))
    rows = []
    try:
        bench.start_with_user(node)
        cases = list(dict.fromkeys([(p, QUEUES_PER_VHOST) for p in PER_VHOST]
                                   + [(max(PER_VHOST), 0)]))
        for policies, queues in cases:
            vh = f"pc{policies}-{queues}"
            filled, declared = fill(node, vh, policies, queues)
            print(f"{vh}: {policies} policies in {filled:.1f} s, {queues} queues in "
                  f"{declared:.1f} s; load {loadavg()}", flush=True)
            idle = idle_rate(node)
            walls, wall, cpu = puts(node, vh, 120000)
            check(node, vh, 120000)
            row = {"vhost": vh, "policies": policies, "queues": queues, "idle": idle,
                   "put_wall": wall, "put_cpu": cpu, "put_median": statistics.median(walls),
                   "put_max": max(walls), "load": loadavg()}
            print(json.dumps(row), flush=True)
            if queues:
                row["post_wall"], row["post_cpu"] = batch(node, vh, 180000)
                check(node, vh, 180000)
                row["load_after"] = loadavg()
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        node.stop()
        node.kill_epmd()

    print()
    print(f"{WRITES} policies changed in a vhost of Q queues and P policies "
          "(broker CPU s; idle rate subtracted in parentheses)")
    print()
    print("| P per vhost | Q | PUTs: wall s | PUTs: CPU s | CPU s per PUT | "
          "one POST: wall s | one POST: CPU s | POST / PUTs (CPU) | idle CPU s/s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        net_put = r["put_cpu"] - r["idle"] * r["put_wall"]
        post = "-"
        if "post_cpu" in r:
            net_post = r["post_cpu"] - r["idle"] * r["post_wall"]
            post = (f"{r['post_wall']:.2f} | {r['post_cpu']:.2f} ({net_post:.2f}) | "
                    f"{r['post_cpu'] / r['put_cpu']:.2f}")
        else:
            post = "- | - | -"
        print(f"| {r['policies']} | {r['queues']} | {r['put_wall']:.2f} | "
              f"{r['put_cpu']:.2f} ({net_put:.2f}) | {r['put_cpu'] / WRITES:.3f} | {post} | "
              f"{r['idle']:.3f} | {r['load']} |")


if __name__ == "__main__":
    main()
