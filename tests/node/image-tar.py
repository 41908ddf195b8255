#!/usr/bin/env python3
"""Packs a root filesystem tarball as a one-layer image archive that `ctr images import` reads.

    image-tar.py --rootfs ROOTFS.tar --ref NAME:TAG --out IMAGE.tar
                 [--user USER] [--workdir DIR] [--env K=V]... [--entrypoint ARG]... [--cmd ARG]...

The archive is the "docker-archive" layout (docker save): manifest.json naming the config and
the one layer, the image config (architecture and OS of this machine, the layer's diff_id, the
process settings), and the layer, which is ROOTFS.tar itself, uncompressed. Nothing is pulled
or pushed: the result only goes into a private containerd with `ctr -n k8s.io images import`.
Deterministic: the same inputs give the same bytes (fixed mtimes, sorted keys, no timestamps).
"""

import argparse
import hashlib
import io
import json
import platform
import sys
import tarfile

ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    archive.addfile(info, io.BytesIO(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--user", default="")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--entrypoint", action="append", default=None)
    parser.add_argument("--cmd", action="append", default=None)
    args = parser.parse_args()

    machine = platform.machine()
    if machine not in ARCHES:
        sys.exit(f"image-tar: unknown machine {machine}")
    for entry in args.env:
        if "=" not in entry:
            sys.exit(f"image-tar: --env {entry}: expected NAME=VALUE")
    if ":" not in args.ref.rsplit("/", 1)[-1]:
        sys.exit(f"image-tar: --ref {args.ref}: expected NAME:TAG")

    diff_id = sha256_of(args.rootfs)
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + args.env
    process = {"Env": env, "WorkingDir": args.workdir}
    if args.user:
        process["User"] = args.user
    if args.entrypoint:
        process["Entrypoint"] = args.entrypoint
    if args.cmd:
        process["Cmd"] = args.cmd
    config = {
        "architecture": ARCHES[machine],
        "os": "linux",
        "config": process,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created_by": f"tests/node/image-tar.py --ref {args.ref}"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = f"{diff_id}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [args.ref], "Layers": [layer_name]}]

    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as archive:
        add_bytes(archive, config_name, config_bytes)
        info = archive.gettarinfo(args.rootfs, arcname=layer_name)
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        info.mode = 0o644
        with open(args.rootfs, "rb") as layer:
            archive.addfile(info, layer)
        add_bytes(archive, "manifest.json", json.dumps(manifest, sort_keys=True).encode())


if __name__ == "__main__":
    main()
