#!/usr/bin/python3
"""Removes every `x-kubernetes-validations` key (CEL rules) from YAML documents.

Kubernetes 1.20 has no CEL: its API server refuses a CustomResourceDefinition that carries
such rules under server-side apply. Reads one or more YAML documents on stdin, writes them to
stdout without the key (at any depth), and reports on stderr how many blocks it removed.

Usage: tests/e2e/strip-cel.py < crds/foo.yaml > foo-1.20.yaml
"""

import sys

import yaml

KEY = "x-kubernetes-validations"


def strip(node, field_names=False):
    """Removes KEY from node in place and returns how many were removed.

    field_names is true for the mapping under `properties`, whose keys name fields: a field
    that happens to be called KEY is kept.
    """
    removed = 0
    if isinstance(node, dict):
        if KEY in node and not field_names:
            del node[KEY]
            removed += 1
        for key, value in node.items():
            removed += strip(value, field_names=not field_names and key == "properties")
    elif isinstance(node, list):
        for item in node:
            removed += strip(item)
    return removed


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with a repeated key (e.g. two files joined without
    a `---` between them), where PyYAML would silently keep the last value."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def main():
    try:
        documents = [doc for doc in yaml.load_all(sys.stdin, Loader=StrictLoader)
                     if doc is not None]
    except yaml.YAMLError as error:
        sys.exit(f"strip-cel: {error}")
    removed = sum(strip(doc) for doc in documents)
    yaml.safe_dump_all(documents, sys.stdout, sort_keys=False, default_flow_style=False,
                       explicit_start=True)
    print(f"strip-cel: removed {removed} {KEY} block(s) from {len(documents)} document(s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
