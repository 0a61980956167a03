#!/usr/bin/env python3
"""bench.py -- the measuring half of bench/run.sh (run.sh sets everything up).

Reads its configuration from the environment run.sh exports, runs every
workload x mode x builder x user N times (builders interleaved run by run, so
slow drifts of a noisy machine hit all of them alike) and appends one JSON
line per measurement to $BENCH_OUT/results.jsonl. Build logs go to
$BENCH_OUT/logs/. A builder that fails a run is recorded with the tail of its
log and skipped for the rest of that workload/mode/user.
"""
import json
import os
import shutil
import socket
import sys
import time
import uuid

import builders
import measure

MODES = {  # workload -> modes measured
    "rethinkdb": ["cold", "nocache", "warm"],
    "rethinkdb-big": ["nocache", "warm"],
    "run20": ["cold", "nocache", "warm"],
    "multistage": ["cold", "nocache", "warm"],
    "touch-last": ["touch"],
    "copy-many": ["cold", "warm"],
    "push": ["push"],
}


class Config:
    def __init__(self):
        e = os.environ
        self.work = e["BENCH_WORK"]
        self.out = e["BENCH_OUT"]
        self.bench_dir = e["BENCH_DIR"]
        self.repo = e["BENCH_REPO"]
        self.runs = int(e.get("BENCH_RUNS", "5"))
        self.registry = e["BENCH_REGISTRY"]
        self.ibuild = e["IBUILD"]
        self.account = e.get("BENCH_USER", "")
        self.buildctl = e.get("BUILDCTL", "")
        self.bk = {"root": (e.get("BK_ROOT_ADDR", ""), e.get("BK_ROOT_PID", "")),
                   "rootless": (e.get("BK_RL_ADDR", ""), e.get("BK_RL_PID", ""))}
        self.buildah_driver = e.get("BENCH_BUILDAH_DRIVER", "overlay")
        self.buildah_isolation = e.get("BENCH_BUILDAH_ISOLATION", "chroot")
        self.only = [w for w in e.get("BENCH_ONLY", "").split(",") if w]
        self.builders = [b for b in e.get("BENCH_BUILDERS", "").split(",") if b]
        self.users = [u for u in e.get("BENCH_USERS", "root,rootless").split(",") if u]


class Workload:
    def __init__(self, name, dockerfile, context):
        self.name, self.dockerfile, self.context = name, dockerfile, context


def workloads(cfg):
    """Dockerfiles copied into the work dir (readable by the bench user)."""
    ctx = os.path.join(cfg.work, "ctx")
    out = {}
    for name in ("run20", "multistage", "touch-last", "copy-many"):
        d = os.path.join(cfg.work, "df", name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(cfg.bench_dir, "workloads", name, "Dockerfile"), d)
        c = os.path.join(ctx, name)
        os.makedirs(c, exist_ok=True)
        out[name] = Workload(name, os.path.join(d, "Dockerfile"), c)
    r = os.path.join(ctx, "rethinkdb")
    if not os.path.isdir(r):
        shutil.copytree(os.path.join(cfg.repo, "examples", "rethinkdb"), r)
    out["rethinkdb"] = Workload("rethinkdb", os.path.join(r, "Dockerfile"), r)
    d = os.path.join(cfg.work, "df", "rethinkdb-big")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(cfg.bench_dir, "workloads", "rethinkdb-big", "Dockerfile"), d)
    out["rethinkdb-big"] = Workload("rethinkdb-big", os.path.join(d, "Dockerfile"), r)
    out["push"] = Workload("copy-many", out["copy-many"].dockerfile, out["copy-many"].context)
    return out


class Runner:
    def __init__(self, cfg):
        self.cfg = cfg
        self.results = open(os.path.join(cfg.out, "results.jsonl"), "a")
        self.logs = os.path.join(cfg.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.t0 = time.time()

    def say(self, msg):
        print("[bench %5.0fs] %s" % (time.time() - self.t0, msg), file=sys.stderr, flush=True)

    def log_path(self, user, wl, mode, b):
        return os.path.join(self.logs, "%s-%s-%s-%s.log" % (user, wl, mode, b))

    def record(self, rec):
        self.results.write(json.dumps(rec) + "\n")
        self.results.flush()

    def fail(self, rec, log):
        with open(log, "rb") as f:
            tail = f.read()[-1500:].decode(errors="replace").strip().splitlines()[-6:]
        rec["error"] = " | ".join(tail)
        self.say("FAILED %(user)s %(workload)s %(mode)s %(builder)s rc=%(rc)s" % rec)
        self.say("  " + rec["error"])

    def measure(self, meta, log, fn):
        """Run fn() -> result dict; record it with meta; True if it succeeded."""
        r = fn()
        rec = dict(meta)
        rec.update(r)
        if r["rc"] != 0:
            self.fail(rec, log)
        self.record(rec)
        return r["rc"] == 0

    def prime(self, b, wl, user, mode, log):
        b.prepare_run()
        r = measure.run(*b.user.cmd(b.argv(wl), b.extra_env()), log)
        if r["rc"] != 0:
            rec = {"user": user, "workload": wl.name, "mode": mode, "builder": b.name,
                   "run": 0, "rc": r["rc"], "phase": "prime"}
            self.fail(rec, log)
            self.record(rec)
            return False
        return True

    def warmup(self, user, bl, wl):
        """One untimed build per builder: binaries and daemons in memory."""
        for b in bl:
            self.prime(b, wl, user, "warmup", self.log_path(user, wl.name, "warmup", b.name))

    def build_mode(self, user, bl, wl, mode):
        """Measure one workload in one mode for all builders, interleaved."""
        live = []
        for b in bl:
            log = self.log_path(user, wl.name, mode, b.name)
            if mode in ("nocache", "warm", "touch") and not self.prime(b, wl, user, mode, log):
                continue
            live.append(b)
        for i in range(1, self.cfg.runs + 1):
            for b in list(live):
                log = self.log_path(user, wl.name, mode, b.name)
                if mode == "cold":
                    b.reset()
                if mode == "touch":
                    with open(os.path.join(wl.context, "last.txt"), "w") as f:
                        f.write("changed %s\n" % uuid.uuid4())
                b.prepare_run()
                os.sync()  # earlier runs' dirty pages must not throttle this one
                meta = {"user": user, "workload": wl.name, "mode": mode, "builder": b.name,
                        "run": i}
                argv = b.argv(wl, nocache=(mode == "nocache"))
                if not self.measure(meta, log, lambda: b.measure(argv, log)):
                    live.remove(b)
            self.say("%s %s %s run %d/%d" % (user, wl.name, mode, i, self.cfg.runs))

    def push_mode(self, user, bmap, wl, preg):
        """Workload 6: push the copy-many image into an empty registry, per tool."""
        steps = []
        dest = lambda tool: "%s/bench/copy:%s" % (preg.addr(), tool)  # noqa: E731
        u = None
        if "ibuild-store" in bmap:
            b = bmap["ibuild-store"]
            u = b.user
            steps.append(("ibuild", b, lambda b=b: b.argv(wl, extra=["-t", dest("ibuild"),
                                                                     "--push"])))
        if "buildah" in bmap:
            b = bmap["buildah"]
            u = b.user
            steps.append(("buildah", b, lambda b=b: b.push_argv(wl, dest("buildah"))))
        if "buildkit" in bmap:
            b = bmap["buildkit"]
            u = b.user
            out = "type=image,name=%s,push=true,registry.insecure=true" % dest("buildkit")
            steps.append(("buildkit", b, lambda b=b, out=out: b.argv(wl, extra=out)))
        live = []
        for name, b, _ in steps:
            if self.prime(b, wl, user, "push", self.log_path(user, "push", "push", name)):
                live.append(name)
        if "ibuild-oci" in bmap:  # skopeo copies ibuild's result, as an OCI layout
            b = bmap["ibuild-oci"]
            u = b.user
            src = os.path.join(u.dir, "push-src")
            builders.rmtree(src)
            log = self.log_path(user, "push", "push", "skopeo")
            r = measure.run(*u.cmd(b.argv(wl, extra=["-o", "type=oci,dest=" + src])), log)
            if r["rc"] == 0:
                pol = os.path.join(self.cfg.work, "policy.json")
                with open(pol, "w") as f:
                    f.write('{"default":[{"type":"insecureAcceptAnything"}]}\n')
                sk = ["skopeo", "copy", "--quiet", "--policy", pol, "--dest-tls-verify=false",
                      "oci:" + src, "docker://" + dest("skopeo")]
                steps.append(("skopeo", None, lambda sk=sk: sk))
                live.append("skopeo")
        for i in range(1, self.cfg.runs + 1):
            for name, b, argv_fn in steps:
                if name not in live:
                    continue
                log = self.log_path(user, "push", "push", name)
                meta = {"user": user, "workload": "push", "mode": "push", "builder": name,
                        "run": i}
                preg.start()
                os.sync()
                try:
                    if b is None:
                        fn = lambda: measure.run(*u.cmd(argv_fn()), log)  # noqa: E731
                    else:
                        fn = lambda: b.measure(argv_fn(), log)  # noqa: E731
                    ok = self.measure(meta, log, fn)
                finally:
                    preg.stop()
                if not ok:
                    live.remove(name)
            self.say("%s push run %d/%d" % (user, i, self.cfg.runs))

    def floor(self, wl):
        """tar -c | pigz of workload 2's context: the floor for a cold COPY."""
        tgz = os.path.join(self.cfg.work, "floor.tar.gz")
        argv = ["sh", "-c", 'tar -C "$1" -cf - . | pigz > "$2"', "sh", wl.context, tgz]
        log = self.log_path("root", "copy-many", "floor", "tar-pigz")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        for i in range(1, self.cfg.runs + 1):
            meta = {"user": "root", "workload": "copy-many", "mode": "cold",
                    "builder": "tar|pigz", "run": i}
            os.sync()
            self.measure(meta, log, lambda: measure.run(argv, env, log))
            os.unlink(tgz)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def builders_for(cfg, user):
    want = cfg.builders or ["ibuild-oci", "ibuild-store", "buildah", "buildkit"]
    bl = []
    for cls in (builders.IbuildOCI, builders.IbuildStore, builders.Buildah):
        if cls.name in want:
            bl.append(cls(cfg, user))
    addr, pid = cfg.bk[user.name]
    if "buildkit" in want and cfg.buildctl and addr and pid:
        bl.append(builders.BuildKit(cfg, user, addr, int(pid)))
    return bl


def main():
    cfg = Config()
    wls = workloads(cfg)
    run = Runner(cfg)
    preg = builders.PushRegistry(cfg, free_port())
    order = ["rethinkdb", "rethinkdb-big", "run20", "multistage", "touch-last", "copy-many",
             "push"]
    order = [w for w in order if not cfg.only or w in cfg.only]
    if "copy-many" in order:
        run.floor(wls["copy-many"])
    for uname in cfg.users:
        if uname == "rootless" and not cfg.account:
            run.say("rootless: skipped (no unprivileged bench user)")
            continue
        user = builders.User(uname, cfg.work, cfg.account if uname == "rootless" else None)
        user.setup()
        bl = builders_for(cfg, user)
        run.say("%s: builders %s" % (uname, " ".join(b.name for b in bl)))
        run.warmup(uname, bl, wls["rethinkdb"])
        for w in order:
            if w == "push":
                run.push_mode(uname, {b.name: b for b in bl}, wls["push"], preg)
                continue
            for mode in MODES[w]:
                run.build_mode(uname, bl, wls[w], mode)
    preg.stop()
    run.say("done")


if __name__ == "__main__":
    main()
