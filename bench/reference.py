#!/usr/bin/env python3
"""A plain Python version of kollacfg's merge, used as a yardstick by the render benchmark.

It does the same work as the engine for the two benchmark cases, written the obvious way with
the standard library only:

* ``rabbitmq``: validate every RabbitPolicy (policy pattern compiled with ``re``, definition keys
  and types, applyTo, the version rule), decide each ``(vhost, name)`` by precedence, upsert the
  winners into the base ``definitions.json`` loaded with ``json``, print it, and parse the result
  again.
* ``nova``: validate the NovaComputePolicy / NovaVifPolicy / OsloMessagingPolicy /
  ConfigOverride fragments, decide each ``section.key`` by precedence, and edit ``nova.conf``
  line by line (``configparser`` would drop comments and multi-valued keys, which kollacfg must
  keep), then parse the result again.

Inputs (written by the benchmark): ``DIR/target.json``, ``DIR/fragments.json`` (a list of
resources) and ``DIR/base/<file>``. The render is timed in-process with ``time.perf_counter``
(interpreter start and input loading excluded); the samples are printed as JSON on stdout and
the rendered file is written to ``--out``.
"""

import argparse
import json
import math
import os
import re
import sys
import time

# ---------------------------------------------------------------------------------------------
# Shared


class Invalid(Exception):
    """A fragment or base file the engine would refuse."""


def single_line(value):
    if any(c in value for c in "\n\r\0"):
        raise Invalid("value contains a line break or NUL")


def plain_value(value):
    single_line(value)
    if value.strip() != value:
        raise Invalid("value has leading or trailing whitespace")


def decide(offers):
    """offers: {item: [(precedence, kind/name, ref, value)]} -> [(item, value)], conflicts.

    Highest precedence wins; ties go to the alphabetically first kind/name. Same precedence and a
    different value is a conflict (the winner still applies)."""
    decided = []
    conflicts = []
    for item in sorted(offers):
        ranked = sorted(offers[item], key=lambda o: (-o[0], o[1], o[2]))
        winner = ranked[0]
        for other in ranked[1:]:
            if other[0] == winner[0] and other[3] != winner[3]:
                conflicts.append((item, winner[2], other[2]))
        decided.append((item, winner[3]))
    return decided, conflicts


def ref_of(resource):
    meta = resource["metadata"]
    return (resource["kind"], meta.get("namespace", "default"), meta["name"])


# ---------------------------------------------------------------------------------------------
# rabbitmq: definitions.json

APPLY_TO = ("all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams")

CLASSIC, QUEUES, QUORUM, EXCHANGES, ANY = range(5)
POLICY_KEYS = {
    **dict.fromkeys(
        (
            "ha-mode",
            "ha-params",
            "ha-sync-mode",
            "ha-sync-batch-size",
            "ha-promote-on-shutdown",
            "ha-promote-on-failure",
            "queue-mode",
            "queue-master-locator",
            "queue-version",
        ),
        CLASSIC,
    ),
    **dict.fromkeys(
        (
            "delivery-limit",
            "max-in-memory-length",
            "max-in-memory-bytes",
            "dead-letter-strategy",
            "initial-cluster-size",
        ),
        QUORUM,
    ),
    **dict.fromkeys(
        (
            "message-ttl",
            "expires",
            "max-length",
            "max-length-bytes",
            "overflow",
            "dead-letter-exchange",
            "dead-letter-routing-key",
            "queue-leader-locator",
            "max-age",
            "stream-max-segment-size-bytes",
            "consumer-timeout",
        ),
        QUEUES,
    ),
    "alternate-exchange": EXCHANGES,
    "federation-upstream": ANY,
    "federation-upstream-set": ANY,
}

STRING_CHOICES = {
    "ha-mode": ("all", "exactly", "nodes"),
    "ha-sync-mode": ("manual", "automatic"),
    "ha-promote-on-shutdown": ("always", "when-synced"),
    "ha-promote-on-failure": ("always", "when-synced"),
    "overflow": ("drop-head", "reject-publish", "reject-publish-dlx"),
    "queue-mode": ("default", "lazy"),
    "dead-letter-strategy": ("at-most-once", "at-least-once"),
    "queue-master-locator": ("min-masters", "client-local", "random", "balanced"),
    "queue-leader-locator": ("min-masters", "client-local", "random", "balanced"),
}
POSITIVE = {"ha-sync-batch-size", "initial-cluster-size", "queue-version"}
NON_NEGATIVE = {
    "message-ttl",
    "expires",
    "max-length",
    "max-length-bytes",
    "delivery-limit",
    "max-in-memory-length",
    "max-in-memory-bytes",
    "stream-max-segment-size-bytes",
    "consumer-timeout",
}


def fits(applies, apply_to):
    if applies == ANY:
        return True
    if applies == EXCHANGES:
        return apply_to in ("all", "exchanges")
    if applies == QUEUES:
        return apply_to != "exchanges"
    if applies == CLASSIC:
        return apply_to in ("all", "queues", "classic_queues")
    return apply_to in ("all", "queues", "quorum_queues")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_string(value, choices=None):
    if not isinstance(value, str):
        raise Invalid(f"{value!r} must be a string")
    single_line(value)
    if choices is not None and value not in choices:
        raise Invalid(f"{value!r} is not one of {', '.join(choices)}")


def check_definition(definition, apply_to, version):
    if not definition:
        raise Invalid("a policy definition needs at least one key")
    ha_mode = definition.get("ha-mode")
    for key, value in definition.items():
        applies = POLICY_KEYS.get(key)
        if applies is None:
            raise Invalid(f"unknown policy key {key!r}")
        if key.startswith("ha-") and version is not None and version[0] >= 4:
            raise Invalid("classic queue mirroring (ha-*) was removed in RabbitMQ 4.0")
        if not fits(applies, apply_to):
            raise Invalid(f"{key!r} does not apply to applyTo: {apply_to}")
        if key == "ha-params":
            if ha_mode == "exactly":
                if not (is_int(value) and value >= 1):
                    raise Invalid("ha-params must be an integer >= 1")
            elif ha_mode == "nodes":
                if not (isinstance(value, list) and value):
                    raise Invalid("ha-params must be a non-empty list of node names")
                for node in value:
                    check_string(node)
            else:
                raise Invalid("ha-params is not used with this ha-mode")
        elif key in STRING_CHOICES:
            check_string(value, STRING_CHOICES[key])
        elif key in POSITIVE:
            if not (is_int(value) and value >= 1):
                raise Invalid(f"{key} must be an integer >= 1")
        elif key in NON_NEGATIVE:
            if not (is_int(value) and value >= 0):
                raise Invalid(f"{key} must be a non-negative integer")
        else:
            check_string(value)
    if ha_mode in ("exactly", "nodes") and "ha-params" not in definition:
        raise Invalid("ha-params is required")


def rabbitmq_version(target):
    version = target["spec"].get("rabbitmq", {}).get("version")
    if version is None:
        return None
    parts = version.split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def render_rabbitmq(target, fragments, base):
    version = rabbitmq_version(target)
    offers = {}
    problems = []
    for resource in fragments:
        spec = resource["spec"]
        vhost = spec.get("vhost", "/")
        name = spec.get("name", resource["metadata"]["name"])
        pattern = spec["pattern"]
        apply_to = spec.get("applyTo", "all")
        try:
            for value in (vhost, name):
                if not value:
                    raise Invalid("must not be empty")
                single_line(value)
            single_line(pattern)
            try:
                re.compile(pattern)
            except re.error as e:
                raise Invalid(f"pattern {pattern!r} does not compile: {e}") from None
            if apply_to not in APPLY_TO:
                raise Invalid(f"{apply_to!r} is not a valid applyTo")
            check_definition(spec["definition"], apply_to, version)
        except Invalid as e:
            problems.append(f"{ref_of(resource)}: {e}")
            continue
        policy = {
            "vhost": vhost,
            "name": name,
            "pattern": pattern,
            "apply-to": apply_to,
            "definition": dict(sorted(spec["definition"].items())),
            "priority": spec.get("priority", 0),
        }
        ref = ref_of(resource)
        offers.setdefault((vhost, name), []).append(
            (spec.get("precedence", 0), f"{ref[0]}/{ref[2]}", ref, policy)
        )
    if problems:
        raise Invalid("\n".join(problems))
    decided, _conflicts = decide(offers)

    doc = json.loads(base["definitions.json"])
    if not isinstance(doc, dict):
        raise Invalid("definitions.json is not a JSON object")
    policies = doc.setdefault("policies", [])
    if not isinstance(policies, list):
        raise Invalid("policies is not a list")
    position = {}
    duplicates = set()
    for n, policy in enumerate(policies):
        if not (isinstance(policy.get("vhost"), str) and isinstance(policy.get("name"), str)):
            raise Invalid("a policy without a string vhost and name")
        key = (policy["vhost"], policy["name"])
        if key in position:
            duplicates.add(n)
        else:
            position[key] = n
    appended = []
    managed_duplicates = set()
    for key, policy in decided:
        if key in position:
            policies[position[key]] = policy
        else:
            appended.append(policy)
    for n in duplicates:
        p = policies[n]
        if (p["vhost"], p["name"]) in offers:
            managed_duplicates.add(n)
    if managed_duplicates:
        policies[:] = [p for n, p in enumerate(policies) if n not in managed_duplicates]
    policies.extend(appended)

    text = dump_definitions(doc)
    json.loads(text)
    return text.encode()


def dump_definitions(doc):
    """kolla's layout: one top-level key per line, one compact array element per line."""
    members = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            elements = ",\n".join(
                "    " + json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in value
            )
            members.append(f"  {json.dumps(key)}: [\n{elements}\n  ]")
        else:
            members.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(members) + "\n}\n"


# ---------------------------------------------------------------------------------------------
# nova: nova.conf, edited line by line

OSLO_RABBIT = "oslo_messaging_rabbit"


def format_float(v):
    if v == int(v) and abs(v) < 1e15:
        return f"{v:.1f}"
    return repr(v)


def ini_name(what, name):
    single_line(name)
    if not name or name.strip() != name:
        raise Invalid(f"{what} {name!r} is empty or has surrounding whitespace")
    bad = "[]" if what == "section" else "=:[] \t"
    if any(c in bad for c in name):
        raise Invalid(f"{what} {name!r} contains a forbidden character")
    if name[0] in "#;":
        raise Invalid(f"{what} {name!r} would be read as a comment")


def file_name(name):
    if (
        not name
        or name.startswith(".")
        or not all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    ):
        raise Invalid(f"{name!r} is not a plain file name")


def nova_items(resource, oslo_file):
    """The (file, section, key) -> value items of one fragment, after checking its values."""
    kind = resource["kind"]
    spec = resource["spec"]
    items = []

    def integer(field, key, section, file, minimum):
        if field in spec:
            v = spec[field]
            if not is_int(v) or v < minimum:
                raise Invalid(f"spec.{field}: {v!r} is below the minimum {minimum}")
            items.append(((file, section, key), str(v)))

    def boolean(field, key, section, file):
        if field in spec:
            v = spec[field]
            if not isinstance(v, bool):
                raise Invalid(f"spec.{field} must be a boolean")
            items.append(((file, section, key), "true" if v else "false"))

    if kind == "NovaComputePolicy":
        for field, key in (
            ("cpuAllocationRatio", "cpu_allocation_ratio"),
            ("ramAllocationRatio", "ram_allocation_ratio"),
            ("diskAllocationRatio", "disk_allocation_ratio"),
        ):
            if field in spec:
                v = float(spec[field])
                if not (math.isfinite(v) and v >= 0.0):
                    raise Invalid(f"spec.{field} must be a finite number >= 0.0")
                items.append((("nova.conf", "DEFAULT", key), format_float(v)))
        integer("reservedHostMemoryMb", "reserved_host_memory_mb", "DEFAULT", "nova.conf", 0)
        integer("maxConcurrentBuilds", "max_concurrent_builds", "DEFAULT", "nova.conf", 0)
    elif kind == "NovaVifPolicy":
        boolean("vifPluggingIsFatal", "vif_plugging_is_fatal", "DEFAULT", "nova.conf")
        integer("vifPluggingTimeout", "vif_plugging_timeout", "DEFAULT", "nova.conf", 0)
    elif kind == "OsloMessagingPolicy":
        integer(
            "heartbeatTimeoutThreshold", "heartbeat_timeout_threshold", OSLO_RABBIT, oslo_file, 0
        )
        integer("heartbeatRate", "heartbeat_rate", OSLO_RABBIT, oslo_file, 1)
        boolean("rabbitQuorumQueue", "rabbit_quorum_queue", OSLO_RABBIT, oslo_file)
        boolean(
            "rabbitTransientQuorumQueue", "rabbit_transient_quorum_queue", OSLO_RABBIT, oslo_file
        )
    elif kind == "ConfigOverride":
        file = spec["file"]
        file_name(file)
        if "ini" not in spec or not file.endswith(".conf"):
            raise Invalid(f"{file} takes ini")
        for section, keys in spec["ini"].items():
            ini_name("section", section)
            for key, value in keys.items():
                ini_name("key", key)
                plain_value(value)
                items.append(((file, section, key), value))
    else:
        raise Invalid(f"{kind} does not write nova.conf")
    if not items:
        raise Invalid("sets nothing: set at least one field")
    return items


class IniFile:
    """nova.conf as a list of items, each keeping the exact text it was read from.

    An item is ["trivia", text], ["header", name, text] or ["entry", key, value, text]; an
    entry's text includes its continuation lines."""

    def __init__(self, text):
        self.items = []
        in_section = False
        lines = text.split("\n")
        last = lines.pop()
        lines = [line + "\n" for line in lines]
        if last:
            lines.append(last)
        for number, raw in enumerate(lines, 1):
            content = raw.rstrip()
            if not content:
                self.items.append(["trivia", raw])
            elif raw[0] in " \t":
                if not self.items or self.items[-1][0] != "entry":
                    raise Invalid(f"line {number}: indented line continues no assignment")
                entry = self.items[-1]
                entry[2] += "\n" + content.lstrip()
                entry[3] += raw
            elif content[0] == "[":
                if not content.endswith("]") or len(content) < 3:
                    raise Invalid(f"line {number}: bad section header")
                in_section = True
                self.items.append(["header", content[1:-1], raw])
            elif content[0] in "#;":
                self.items.append(["trivia", raw])
            else:
                match = re.search("[=:]", content)
                if match is None:
                    raise Invalid(f"line {number}: expected key = value")
                key = content[: match.start()].strip()
                if not key:
                    raise Invalid(f"line {number}: empty key")
                if not in_section:
                    raise Invalid(f"line {number}: assignment before the first section")
                value = content[match.start() + 1 :].strip()
                self.items.append(["entry", key, value, raw])

    def set(self, section, key, value):
        """Makes value the only value of section.key, keeping every other line as it is."""
        current = None
        hits = []
        for n, item in enumerate(self.items):
            if item[0] == "header":
                current = item[1]
            elif item[0] == "entry" and current == section and item[1] == key:
                hits.append(n)
        entry = ["entry", key, value, f"{key} = {value}\n"]
        if hits:
            for n in reversed(hits[1:]):
                del self.items[n]
            if self.items[hits[0]][2] != value:
                self.items[hits[0]] = entry
            return
        point = None
        in_section = False
        for n, item in enumerate(self.items):
            if item[0] == "header":
                in_section = item[1] == section
                if in_section:
                    point = n + 1
            elif item[0] == "entry" and in_section:
                point = n + 1
        if point is not None:
            self._terminate_before(point)
            self.items.insert(point, entry)
            return
        self._terminate_before(len(self.items))
        if self.items and not (self.items[-1][0] == "trivia" and not self.items[-1][1].strip()):
            self.items.append(["trivia", "\n"])
        self.items.append(["header", section, f"[{section}]\n"])
        self.items.append(entry)

    def _terminate_before(self, at):
        if at > 0 and not self.items[at - 1][-1].endswith("\n"):
            self.items[at - 1][-1] += "\n"

    def render(self):
        return "".join(item[-1] for item in self.items)


def render_nova(target, fragments, base):
    service = target["spec"]["service"]
    oslo_file = service.split("-")[0] + ".conf"
    offers = {}
    problems = []
    for resource in fragments:
        try:
            items = nova_items(resource, oslo_file)
        except Invalid as e:
            problems.append(f"{ref_of(resource)}: {e}")
            continue
        ref = ref_of(resource)
        precedence = resource["spec"].get("precedence", 0)
        for item, value in items:
            offers.setdefault(item, []).append((precedence, f"{ref[0]}/{ref[2]}", ref, value))
    if problems:
        raise Invalid("\n".join(problems))
    decided, _conflicts = decide(offers)
    doc = IniFile(base["nova.conf"].decode())
    for (_file, section, key), value in decided:
        doc.set(section, key, value)
    text = doc.render()
    IniFile(text)
    return text.encode()


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("rabbitmq", "nova"), required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    with open(os.path.join(args.inputs, "target.json"), encoding="utf-8") as f:
        target = json.load(f)
    with open(os.path.join(args.inputs, "fragments.json"), encoding="utf-8") as f:
        fragments = json.load(f)
    base = {}
    base_dir = os.path.join(args.inputs, "base")
    for name in sorted(os.listdir(base_dir)):
        with open(os.path.join(base_dir, name), "rb") as f:
            base[name] = f.read()
    render = render_rabbitmq if args.case == "rabbitmq" else render_nova

    output = None
    for _ in range(args.warmup):
        output = render(target, fragments, base)
    samples = []
    for _ in range(max(args.iterations, 1)):
        start = time.perf_counter()
        output = render(target, fragments, base)
        samples.append(time.perf_counter() - start)
    with open(args.out, "wb") as f:
        f.write(output)
    json.dump({"case": args.case, "samples": samples}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
