#!/usr/bin/env python3
"""gen-context.py OUT_DIR [--small N] [--big N] [--big-mib M] [--mark FILE]

Write the copy-many build context (workload 2) into OUT_DIR: small/dNN/fNNNN.txt
(N=5000 files of 50..500 bytes, 100 per directory) and big/blobNN.bin
(20 x 10 MiB = 200 MiB). Content is pseudo-random from a fixed seed, so it is
incompressible and every run gives identical bytes. Does nothing when
the marker FILE records the same parameters (so the context is made once and
reused; FILE defaults to OUT_DIR.done and must lie outside any build context);
refuses to replace a non-empty OUT_DIR it did not make.
"""
import argparse
import os
import random
import shutil
import sys

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--small", type=int, default=5000)
ap.add_argument("--big", type=int, default=20)
ap.add_argument("--big-mib", type=int, default=10)
ap.add_argument("--mark")
a = ap.parse_args()
out = os.path.abspath(a.out)
mark = a.mark or out + ".done"
want = "small=%d big=%d big_mib=%d seed=1234 v1\n" % (a.small, a.big, a.big_mib)
if os.path.exists(mark) and open(mark).read() == want:
    sys.exit(0)
if os.path.exists(out):
    if not os.path.exists(mark) and os.listdir(out):
        sys.exit("refusing to replace non-empty %s" % out)
    shutil.rmtree(out)
if os.path.exists(mark):
    os.unlink(mark)
os.makedirs(out)
r = random.Random(1234)
for i in range(a.small):
    d = os.path.join(out, "small", "d%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.txt" % i), "wb") as f:
        f.write(r.randbytes(r.randint(50, 500)))
os.makedirs(os.path.join(out, "big"))
for i in range(a.big):
    with open(os.path.join(out, "big", "blob%02d.bin" % i), "wb") as f:
        for _ in range(a.big_mib):
            f.write(r.randbytes(1 << 20))
with open(mark, "w") as f:
    f.write(want)
