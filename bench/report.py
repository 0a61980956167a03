#!/usr/bin/env python3
"""report.py RESULTS_DIR > BENCHMARKS.md

Turns RESULTS_DIR/results.jsonl and meta.json (written by run.sh/bench.py)
into the Markdown report: medians per workload/mode/builder/user, the
ibuild/buildah and ibuild/BuildKit ratios, the push comparison, the floor,
the targets of issue 6 with their verdicts, failures and notes. Includes
bench/findings.md after the targets when it exists (hand-written profiling
findings, dated and tied to a commit, that the figures alone do not show) and
bench/method.md at the end.
"""
import collections
import json
import os
import statistics
import sys

ROWS = [("rethinkdb", "cold"), ("rethinkdb", "nocache"), ("rethinkdb", "warm"),
        ("rethinkdb-big", "nocache"), ("rethinkdb-big", "warm"),
        ("copy-many", "cold"), ("copy-many", "warm"),
        ("run20", "cold"), ("run20", "nocache"), ("run20", "warm"),
        ("multistage", "cold"), ("multistage", "nocache"), ("multistage", "warm"),
        ("touch-last", "touch")]
BUILDERS = ["ibuild-oci", "ibuild-store", "buildah", "buildkit"]
HEAD = {"ibuild-oci": "ibuild -o oci", "ibuild-store": "ibuild -t", "buildah": "buildah bud",
        "buildkit": "BuildKit -o oci"}
WL_NAME = {"rethinkdb": "(1) rethinkdb", "rethinkdb-big": "(1b) rethinkdb, 100 MiB base",
           "copy-many": "(2) copy 5k files + 200 MiB",
           "run20": "(3) 20 x RUN true", "multistage": "(4) three stages",
           "touch-last": "(5) last file changed"}


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    recs = [json.loads(ln) for ln in open(os.path.join(d, "results.jsonl")) if ln.strip()]
    return meta, recs


class Stats:
    def __init__(self, recs):
        self.ok = collections.defaultdict(list)
        self.failed = []
        for r in recs:
            key = (r["user"], r["workload"], r["mode"], r["builder"])
            if r.get("rc", 1) != 0:
                self.failed.append(r)
            elif r.get("phase") != "prime":
                self.ok[key].append(r)

    def med(self, user, wl, mode, b, what="wall"):
        rs = self.ok.get((user, wl, mode, b))
        if not rs:
            return None
        if what == "wall":
            return statistics.median(r["wall"] for r in rs)
        if what == "cpu":
            return statistics.median(r["utime"] + r["stime"] for r in rs)
        if what == "rss":
            return statistics.median(r["rss_kib"] for r in rs) / 1024
        if what == "rssmax":
            return max(r["rss_kib"] for r in rs) / 1024
        raise ValueError(what)

    def failure(self, user, wl, mode, b):
        for r in self.failed:
            if (r["user"], r["workload"], r["mode"], r["builder"]) == (user, wl, mode, b):
                return r
        return None


def fmt(v, unit="s"):
    if v is None:
        return "–"
    if unit == "MiB":
        return "%.0f" % v
    return "%.2f" % v if v >= 0.995 else "%.3f" % v


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "–"


def cell(st, user, wl, mode, b, what, unit):
    v = st.med(user, wl, mode, b, what)
    if v is None and st.failure(user, wl, mode, b):
        return "failed"
    return fmt(v, unit)


def table(st, user, what, unit):
    out = ["| workload | mode | " + " | ".join(HEAD[b] for b in BUILDERS) +
           " | ibuild -o oci / BuildKit | ibuild -t / buildah |",
           "|---|---|" + "---:|" * (len(BUILDERS) + 2)]
    for wl, mode in ROWS:
        vals = [cell(st, user, wl, mode, b, what, unit) for b in BUILDERS]
        if all(v == "–" for v in vals):
            continue
        m = lambda b: st.med(user, wl, mode, b, what)  # noqa: E731
        out.append("| %s | %s | %s | %s | %s |" % (
            WL_NAME[wl], mode, " | ".join(vals), ratio(m("ibuild-oci"), m("buildkit")),
            ratio(m("ibuild-store"), m("buildah"))))
    return out


def push_table(st, users):
    tools = [("ibuild", "ibuild -t REG/… --push (warm build + push)"),
             ("buildah", "buildah push (from its store)"),
             ("buildkit", "BuildKit type=image,push=true (warm build + push)"),
             ("skopeo", "skopeo copy oci:(ibuild's layout) docker://…")]
    out = ["| tool | " + " | ".join("%s wall s | %s CPU s | %s RSS MiB" % (u, u, u)
                                     for u in users) + " |",
           "|---|" + "---:|" * (3 * len(users))]
    for t, label in tools:
        row = []
        for u in users:
            row += [cell(st, u, "push", "push", t, w, un)
                    for w, un in (("wall", "s"), ("cpu", "s"), ("rss", "MiB"))]
        out.append("| %s | %s |" % (label, " | ".join(row)))
    row = []
    for u in users:
        a = st.med(u, "push", "push", "ibuild")
        b = st.med(u, "copy-many", "warm", "ibuild-store")
        row += [fmt(a - b) if a is not None and b is not None else "–", "", ""]
    out.append("| ibuild push alone ≈ (build + push) − warm `-t` build | %s |" % " | ".join(row))
    return out


def verdict(v, limit, what):
    """'holds'/'MISSES' for v < limit, with by how much."""
    if v is None or limit is None:
        return "not measured"
    if v < limit:
        return "holds (%s; %.0f%% under)" % (what, 100 * (1 - v / limit))
    return "**MISSES** by %.0f%% (%s)" % (100 * (v / limit - 1), what)


def targets(st, u):
    """[(target, verdict)] for user u, from the medians."""
    m = lambda wl, mode, b, w="wall": st.med(u, wl, mode, b, w)  # noqa: E731
    rows = []
    a, b = m("rethinkdb", "warm", "ibuild-store"), m("rethinkdb", "warm", "buildah")
    rows.append(("Warm rebuild, nothing changed, into the store: ibuild -t < 1/5 of buildah",
                 verdict(a, b / 5 if b else None, "%s s vs buildah %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("rethinkdb", "warm", "ibuild-oci"), m("rethinkdb", "warm", "buildkit")
    rows.append(("Warm rebuild with OCI export: ibuild -o oci < 0.15 s",
                 verdict(a, 0.15, "%s s" % fmt(a))))
    rows.append(("Warm rebuild with OCI export: < 1/2 of BuildKit's warm-daemon time",
                 verdict(a, b / 2 if b else None, "%s s vs BuildKit %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("rethinkdb-big", "warm", "ibuild-store"), m("rethinkdb-big", "warm", "buildah")
    rows.append(("… the same with the 100 MiB base (1b): ibuild -t < 1/5 of buildah",
                 verdict(a, b / 5 if b else None, "%s s vs buildah %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("rethinkdb-big", "warm", "ibuild-oci"), m("rethinkdb-big", "warm", "buildkit")
    rows.append(("… the same with the 100 MiB base (1b): ibuild -o oci < 0.15 s",
                 verdict(a, 0.15, "%s s" % fmt(a))))
    rows.append(("… the same with the 100 MiB base (1b): < 1/2 of BuildKit",
                 verdict(a, b / 2 if b else None, "%s s vs BuildKit %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("rethinkdb", "nocache", "ibuild-oci"), m("rethinkdb", "nocache", "buildkit")
    rows.append(("rethinkdb --no-cache (base present): ibuild -o oci faster than BuildKit",
                 verdict(a, b, "%s s vs %s s: %s" % (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("rethinkdb-big", "nocache", "ibuild-oci"), m("rethinkdb-big", "nocache", "buildkit")
    rows.append(("… the same with the 100 MiB base (1b)",
                 verdict(a, b, "%s s vs %s s: %s" % (fmt(a), fmt(b), ratio(a, b)))))
    a = m("run20", "nocache", "ibuild-oci")
    base = m("rethinkdb", "nocache", "ibuild-oci")
    per = a / 20 if a is not None else None
    marg = (a - base) / 19 if a is not None and base is not None else None
    rows.append(("20 x RUN --no-cache: per-step overhead < 30 ms (wall/20, upper bound)",
                 verdict(per, 0.030, "%s ms per step; marginal (run20 − rethinkdb)/19 = %s ms"
                         % ("%.1f" % (per * 1000) if per else "–",
                            "%.1f" % (marg * 1000) if marg else "–"))))
    b = m("run20", "nocache", "buildkit")
    rows.append(("20 x RUN --no-cache: < 1/2 of BuildKit",
                 verdict(a, b / 2 if b else None, "%s s vs %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("run20", "nocache", "ibuild-store"), m("run20", "nocache", "buildah")
    rows.append(("20 x RUN --no-cache: < 1/3 of buildah (ibuild -t vs buildah)",
                 verdict(a, b / 3 if b else None, "%s s vs %s s: %s" %
                         (fmt(a), fmt(b), ratio(a, b)))))
    a, f = m("copy-many", "cold", "ibuild-oci"), st.med("root", "copy-many", "cold", "tar|pigz")
    rows.append(("(2) cold: ibuild -o oci within 1.3x of `tar -c | pigz`",
                 verdict(a, 1.3 * f if f else None, "%s s vs floor %s s: %s" %
                         (fmt(a), fmt(f), ratio(a, f)))))
    b = m("copy-many", "cold", "buildkit")
    rows.append(("(2) cold: faster than BuildKit (-o oci both)",
                 verdict(a, b, "%s s vs %s s: %s" % (fmt(a), fmt(b), ratio(a, b)))))
    a, b = m("copy-many", "cold", "ibuild-store"), m("copy-many", "cold", "buildah")
    rows.append(("(2) cold: faster than buildah (-t both)",
                 verdict(a, b, "%s s vs %s s: %s" % (fmt(a), fmt(b), ratio(a, b)))))
    peaks = [st.med(u, "copy-many", mode, v, "rssmax") for mode in ("cold", "warm")
             for v in ("ibuild-oci", "ibuild-store")]
    peaks = [p for p in peaks if p is not None]
    pk = max(peaks) if peaks else None
    rows.append(("(2) peak RSS of ibuild < 150 MiB (max over all runs)",
                 verdict(pk, 150, "%s MiB" % fmt(pk, "MiB"))))
    return rows


def main():
    d = sys.argv[1]
    meta, recs = load(d)
    st = Stats(recs)
    users = [u for u in ("root", "rootless") if any(k[0] == u for k in st.ok)]
    p = print
    p("# ibuild benchmarks\n")
    p("Generated by `bench/run.sh` (see bench/README.md). **Machine: %s CPUs (%s), %s RAM, "
      "kernel %s; shared with other jobs and noisy** (load average %s at the start, %s at the "
      "end): treat differences under ~20%% as noise.\n" % (
          meta["cpus"], meta["cpu_model"].strip(), meta["mem"], meta["kernel"],
          " ".join(meta["loadavg_start"]), " ".join(meta.get("loadavg_end", ["?"]))))
    dur = meta.get("duration_s")
    p("- Date: %s; runs per measurement: %d (medians below)%s" % (
        meta["date"], meta["runs"], "; the whole run took %s" % (
            "%d min" % round(dur / 60) if dur >= 120 else "%d s" % dur) if dur else ""))
    for u in users:
        ran = sorted({k[3] for k in st.ok if k[0] == u and k[1] != "push"} - {"tar|pigz"})
        p("- Builders measured %s: %s" % (u, ", ".join(ran)))
    p("- Command (as root, from the checkout): `%s`" % meta["command"])
    p("- ibuild: commit %s%s" % (meta["ibuild_commit"],
                                 " plus %d uncommitted changed file(s)" % meta["ibuild_dirty_files"]
                                 if meta["ibuild_dirty_files"] else ""))
    p("- buildah: %s (driver %s, isolation %s, `--layers`)" % (
        meta["buildah"], meta["buildah_driver"], meta["buildah_isolation"]))
    p("- BuildKit: %s" % ("%s (own daemons started with the rig's buildkit-up.sh, kept "
                          "running)" % meta["buildkit"] if meta["buildkit"] else "not run"))
    p("- %s; %s; %s; rootless user: %s" % (meta["go"], meta["skopeo"], meta["pigz"],
                                          meta["rootless_user"] or "none"))
    for n in meta.get("notes", []):
        p("- Note: %s" % n)
    p("\n## Targets of issue 6\n")
    p("| target | " + " | ".join(users) + " |")
    p("|---|" + "---|" * len(users))
    per_user = {u: targets(st, u) for u in users}
    for i, (name, _) in enumerate(per_user[users[0]] if users else []):
        p("| %s | %s |" % (name, " | ".join(per_user[u][i][1] for u in users)))
    p("")
    here = os.path.dirname(os.path.abspath(__file__))
    findings = os.path.join(here, "findings.md")
    if os.path.exists(findings):
        p(open(findings).read().rstrip() + "\n")
    for u in users:
        p("\n## %s: wall time, median seconds\n" % u)
        p("\n".join(table(st, u, "wall", "s")))
        p("\n## %s: CPU time (user+sys, incl. children; BuildKit: buildctl + daemon tree), "
          "median seconds\n" % u)
        p("\n".join(table(st, u, "cpu", "s")))
        p("\n## %s: peak RSS, median MiB\n" % u)
        p("\n".join(table(st, u, "rss", "MiB")))
    p("\n## (6) Push of the copy-many image (212 MB) into an empty loopback registry\n")
    p("\n".join(push_table(st, users)))
    f = st.med("root", "copy-many", "cold", "tar|pigz")
    fc = st.med("root", "copy-many", "cold", "tar|pigz", "cpu")
    p("\n## Floor\n\n`tar -c | pigz > file` of workload (2)'s context (page cache warm): "
      "%s s wall, %s s CPU (median).\n" % (fmt(f), fmt(fc)))
    if st.failed:
        p("## Failures\n")
        seen = set()
        for r in st.failed:
            k = (r["user"], r["workload"], r["mode"], r["builder"])
            if k in seen:
                continue
            seen.add(k)
            p("- %s %s %s %s (rc %s): `%s`" % (k + (r.get("rc"), r.get("error", "")[:300],)))
        p("")
    method = os.path.join(here, "method.md")
    if os.path.exists(method):
        p(open(method).read().rstrip() + "\n")


if __name__ == "__main__":
    main()
