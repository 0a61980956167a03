#!/usr/bin/env python3
"""mkbase.py LAYOUT_DIR TAG [--busybox PATH] [--filler-mib N]

Write a one-layer busybox base image (static busybox, /bin applet symlinks,
/etc/passwd and /etc/group with root, app=1000, nobody) as an OCI image
layout LAYOUT_DIR tagged TAG. --filler-mib N adds N MiB of text files under
/usr/share/filler (16 KiB each, half pseudo-random base64, half a repeat of
it: about 40% compressed, as a Debian or Ubuntu base), so that the cost of
handling a base image of realistic size shows. Deterministic: fixed mtimes
($SOURCE_DATE_EPOCH, default 1700000000), gzip mtime 0, sorted entries, so
the same busybox binary always gives the same digests. Stdlib only; push
the layout with `skopeo copy oci:LAYOUT_DIR:TAG docker://REGISTRY/REPO:TAG`.
"""
import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import tarfile
import time

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))
PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"
DIRS = (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755),
        ("proc", 0o755), ("root", 0o700), ("sys", 0o755), ("tmp", 0o1777),
        ("usr", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755), ("var", 0o755))


def entry(name, typ, mode, uid=0, gid=0):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = typ, mode, uid, gid, EPOCH
    ti.uname = ti.gname = ""
    return ti


def add_filler(tf, mib):
    """mib MiB of 16 KiB text files, 100 per directory, from a fixed seed."""
    r = random.Random(4321)
    tf.addfile(entry("usr/share/", tarfile.DIRTYPE, 0o755))
    tf.addfile(entry("usr/share/filler/", tarfile.DIRTYPE, 0o755))
    for i in range(mib * 64):
        if i % 100 == 0:
            tf.addfile(entry("usr/share/filler/d%03d/" % (i // 100), tarfile.DIRTYPE, 0o755))
        half = base64.b64encode(r.randbytes(6144))  # 8 KiB of text
        data = half + half
        ti = entry("usr/share/filler/d%03d/f%05d.txt" % (i // 100, i), tarfile.REGTYPE, 0o644)
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))


def layer_tar(bb, filler_mib=0):
    """The uncompressed layer as bytes."""
    apps = subprocess.run([bb, "--list"], check=True, capture_output=True, text=True).stdout
    apps = sorted({a for a in apps.split() if a and a != "busybox" and "/" not in a})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d, mode in DIRS:
            tf.addfile(entry(d + "/", tarfile.DIRTYPE, mode))
        tf.addfile(entry("home/app/", tarfile.DIRTYPE, 0o755, 1000, 1000))
        with open(bb, "rb") as f:
            data = f.read()
        ti = entry("bin/busybox", tarfile.REGTYPE, 0o755)
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        for a in apps:
            ti = entry("bin/" + a, tarfile.SYMTYPE, 0o777)
            ti.linkname = "/bin/busybox"
            tf.addfile(ti)
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            ti = entry(name, tarfile.REGTYPE, 0o644)
            ti.size = len(text)
            tf.addfile(ti, io.BytesIO(text.encode()))
        if filler_mib:
            add_filler(tf, filler_mib)
    return buf.getvalue()


def put(blobs, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("tag")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--filler-mib", type=int, default=0)
    a = ap.parse_args()
    blobs = os.path.join(a.layout, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    with open(os.path.join(a.layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    raw = layer_tar(a.busybox, a.filler_mib)
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as g:
        g.write(raw)
    layer = put(blobs, gz.getvalue())
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    config = {"created": created, "architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                         "Cmd": ["sh"]},
              "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
              "history": [{"created": created, "created_by": "ADD busybox rootfs (bench)"}]}
    cfg = put(blobs, json.dumps(config, sort_keys=True).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": cfg, "layers": [layer]}
    m = put(blobs, json.dumps(man).encode())
    m["mediaType"] = man["mediaType"]
    m["annotations"] = {"org.opencontainers.image.ref.name": a.tag}
    with open(os.path.join(a.layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    print(m["digest"])


if __name__ == "__main__":
    main()
