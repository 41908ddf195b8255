#!/usr/bin/env python3
"""Summarises the peak snapshot of a valgrind massif file by the code that allocated.

Usage: bench/massif_peak.py massif.out [--top N]

Each leaf of the peak heap tree is charged to the innermost stack frame that belongs to
kollacfg (its crates are named kollacfg*), so the table says which step of the program holds
the memory at its peak, e.g. ``Definitions::parse`` or ``inputs::load``.
"""

import argparse
import collections
import re

NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")


def frame_name(desc):
    desc = re.sub(r"^0x[0-9A-Fa-f]+: ", "", desc)
    return re.sub(r" \(in .*\)$", "", desc)


def peak_tree(lines):
    """The lines of the peak snapshot's heap tree, and its total heap bytes."""
    heap = None
    for n, line in enumerate(lines):
        if line.startswith("mem_heap_B="):
            heap = int(line.split("=", 1)[1])
        elif line == "heap_tree=peak":
            tree = []
            for node in lines[n + 1 :]:
                if node.startswith("snapshot=") or node.startswith("#"):
                    break
                tree.append(node)
            return tree, heap
    raise SystemExit("no peak snapshot (run massif with its default --detailed-freq)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("massif_out")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    with open(args.massif_out, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    tree, heap = peak_tree(lines)
    by_frame = collections.Counter()
    stack = []
    for line in tree:
        match = NODE.match(line)
        if not match:
            continue
        depth, children, size, desc = match.groups()
        depth = len(depth)
        stack = stack[:depth] + [desc]
        if int(children) == 0 and depth > 0:
            frames = [frame_name(d) for d in stack[1:]]
            ours = [f for f in frames if "kollacfg" in f]
            where = ours[0] if ours else (frames[0] if frames else frame_name(desc))
            by_frame[where] += int(size)
    print(f"peak heap: {heap / 2**20:.1f} MiB")
    for where, size in by_frame.most_common(args.top):
        print(f"{size / 2**20:8.1f} MiB  {where[:140]}")


if __name__ == "__main__":
    main()
