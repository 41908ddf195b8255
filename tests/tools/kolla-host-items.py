#!/usr/bin/env python3
"""Lists the per-host items of kolla-ansible's config templates.

A per-host item is a setting whose value kolla-ansible builds from a fact of the host it
deploys to: its interface addresses ('api' | kolla_address, api_interface_address,
migration_interface_address, ...), its names (inventory_hostname, ansible_facts.hostname,
ansible_facts.nodename, ansible_host, ...), or a variable defined from those (found by
following group_vars/all/*.yml and the roles' defaults/main.yml). A value built from every
host of a group (hostvars[host]..., kolla_address(host)) is not per-host, nor is a test such
as `inventory_hostname in groups[...]`.

Usage: kolla-host-items.py ANSIBLE_DIR [ROLE...]
    ANSIBLE_DIR  kolla-ansible's ansible/ directory (share/kolla-ansible/ansible in the wheel)
    ROLE         roles to read (default: nova nova-cell neutron rabbitmq, the services whose
                 files kollacfg edits)

Prints one line per item, tab-separated and sorted:
    FILE  ITEM  TEMPLATE:LINE  EXPRESSION
where ITEM is `[section] key` for an INI file, `NAME` for rabbitmq-env.conf and `key` for
rabbitmq.conf (a Jinja expression inside a key is written `*`). Standard library only.
"""

import glob
import os
import re
import sys

DEFAULT_ROLES = ["nova", "nova-cell", "neutron", "rabbitmq"]

# The host's own facts. `kolla_address` without an argument (or with inventory_hostname) is
# the address of the host being deployed.
FACTS = [
    r"inventory_hostname(?!\s+(?:not\s+)?in\b)",
    r"ansible_facts\.(?:hostname|nodename|fqdn)",
    r"ansible_facts\[['\"](?:hostname|nodename|fqdn)['\"]\]",
    r"ansible_(?:host|hostname|nodename|fqdn)\b",
    r"\|\s*kolla_address\s*(?:\(\s*inventory_hostname\s*\))?(?=\s*(?:\||\}\}|\)|$))",
]
# What makes a mention belong to another host: hostvars[...] before it.
OTHER_HOST = re.compile(r"hostvars\[[^\]]*\]\s*(?:\.|\[)\s*['\"]?$")

VAR_DEF = re.compile(r"^([a-z_][a-z0-9_]*):\s*(.*)$")
SET_STMT = re.compile(r"\{%-?\s*set\s+([a-z_][a-z0-9_]*)\s*=\s*(.*?)\s*-?%\}")
INCLUDE = re.compile(r"\{%-?\s*include\s+['\"]([^'\"]+)['\"]")
EXPR = re.compile(r"\{\{(.*?)\}\}")
SECTION = re.compile(r"^\[([^\]]+)\]\s*$")


_compiled = {}


def mention_pattern(per_host_vars):
    """One regular expression for the facts and the per-host variables (cached)."""
    key = frozenset(per_host_vars)
    if key not in _compiled:
        names = [r"\b%s\b" % re.escape(v) for v in sorted(per_host_vars)]
        _compiled[key] = re.compile("|".join("(?:%s)" % p for p in FACTS + names))
    return _compiled[key]


def own_host_mentions(text, per_host_vars):
    """The per-host facts or variables `text` uses for the host itself."""
    found = []
    for m in mention_pattern(per_host_vars).finditer(text):
        if OTHER_HOST.search(text[: m.start()]):
            continue
        found.append(m.group(0).strip("| "))
    return found


def variable_definitions(ansible):
    """name -> text of every top-level variable in group_vars/all and the roles' defaults."""
    files = sorted(glob.glob(os.path.join(ansible, "group_vars", "all", "*.yml")))
    files += sorted(glob.glob(os.path.join(ansible, "roles", "*", "defaults", "main.yml")))
    defs = {}
    for path in files:
        name = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = VAR_DEF.match(line)
                if m:
                    name = m.group(1)
                    defs[name] = defs.get(name, "") + m.group(2) + "\n"
                elif name and (line.startswith((" ", "\t")) or not line.strip()):
                    defs[name] += line
                else:
                    name = None
    return defs


def per_host_variables(defs):
    """The variables whose value is built from the host's own facts (a fixed point)."""
    found = set()
    while True:
        more = {
            name
            for name, text in defs.items()
            if name not in found and own_host_mentions(text, found)
        }
        if not more:
            return found
        found |= more


def template_lines(path, seen=()):
    """(template, line number, text) of a template, includes expanded where they stand."""
    base = os.path.dirname(path)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.search(line)
            if m:
                included = os.path.join(base, m.group(1))
                if os.path.exists(included) and included not in seen:
                    yield from template_lines(included, seen + (path,))
                    continue
            yield path, number, line.rstrip("\n")


def kind_of(output):
    if output == "rabbitmq-env.conf":
        return "env"
    if output == "rabbitmq.conf":
        return "conf"
    if output.endswith((".conf", ".ini")):
        return "ini"
    return None


def scan(ansible, roles, per_host):
    rows = set()
    for role in roles:
        templates = os.path.join(ansible, "roles", role, "templates")
        for path in sorted(glob.glob(os.path.join(templates, "*.j2"))):
            output = os.path.basename(path)[: -len(".j2")]
            kind = kind_of(output)
            if kind is None:
                continue
            lines = list(template_lines(path))
            if kind == "ini" and not any(SECTION.match(t) for _, _, t in lines):
                continue  # libvirtd.conf, dnsmasq.conf...: not oslo INI files
            local = set()
            section = None
            for where, number, text in lines:
                for m in SET_STMT.finditer(text):
                    if own_host_mentions(m.group(2), per_host | local):
                        local.add(m.group(1))
                stripped = text.strip()
                m = SECTION.match(stripped)
                if m:
                    section = m.group(1)
                    continue
                if stripped.startswith(("{%", "{#", "#", ";")) or "=" not in stripped:
                    continue
                key, value = stripped.split("=", 1)
                key = key.strip()
                if kind == "env":
                    key = re.sub(r"^export\s+", "", key)
                expressions = EXPR.findall(value)
                hits = [e for e in expressions if own_host_mentions(e, per_host | local)]
                if not hits:
                    continue
                key = EXPR.sub("*", key)
                item = "[%s] %s" % (section, key) if kind == "ini" else key
                source = "%s:%d" % (os.path.relpath(where, ansible), number)
                rows.add((output, item, source, value.strip()))
    return sorted(rows)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    ansible = argv[1]
    roles = argv[2:] or DEFAULT_ROLES
    defs = variable_definitions(ansible)
    per_host = per_host_variables(defs)
    for row in scan(ansible, roles, per_host):
        print("\t".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
