#!/usr/bin/env bash
# bench/run.sh -- ibuild against buildah and BuildKit on the same machine, same run.
#
#   sudo bench/run.sh                      # 5 runs per measurement (~15-20 min on 2 cores)
#   sudo BENCH_QUICK=1 bench/run.sh        # 1 run each, does not touch BENCHMARKS.md
#
# Builds ibuild from this checkout, starts its own registry:2 (Debian's
# docker-registry) on a free 127.0.0.1 port with base images it makes from
# this machine's static busybox (library/busybox and library/ubuntu, no
# network), generates the build contexts, starts its own BuildKit daemons
# with the rig's scripts when they and the BuildKit binaries are present
# (skipped with a note otherwise), runs bench.py, writes the report and
# removes everything it started or created (by PID, only its own).
# See bench/README.md for the workloads and how to read the results.
#
# Env: BENCH_RUNS (5), BENCH_QUICK=1 (1 run), BENCH_OUT (results dir, default
#   /tmp/ibuild-bench-results-DATE, kept), BENCH_WRITE (1 = write ../BENCHMARKS.md;
#   default 1 unless BENCH_QUICK=1), BENCH_USER (unprivileged user with a
#   subuid range, default ibuildtest; empty = no rootless runs), BENCH_USERS
#   (root,rootless), BENCH_ONLY (comma list: rethinkdb,rethinkdb-big,run20,multistage,
#   touch-last,copy-many,push), BENCH_BUILDERS (ibuild-oci,ibuild-store,
#   buildah,buildkit), BENCH_BUILDAH_DRIVER (overlay), BENCH_BUILDAH_ISOLATION
#   (chroot), BENCH_RIG (rig scripts, default ../../shared/rig from here),
#   BUILDKIT_BIN (buildkitd+buildctl, default /tmp/rig/buildkit/bin),
#   BENCH_NO_BUILDKIT=1, BENCH_KEEP=1 (keep the work dir for inspection),
#   BENCH_IBUILD_REV (build ibuild from this git revision via `git archive`
#   instead of the working tree), BENCH_IBUILD (use this ibuild binary).
set -euo pipefail
umask 022
export PYTHONDONTWRITEBYTECODE=1
START="$(date +%s)"
# the command line as given (its settings), for the report
CMDLINE="$(for v in $(compgen -e | grep -E '^(BENCH_[A-Z_]+|BUILDKIT_BIN)$' | sort); do
	printf '%s=%q ' "$v" "${!v}"
done)bench/run.sh"
export CMDLINE

BENCH_DIR="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
say() { echo "[run.sh] $*" >&2; }
die() { echo "[run.sh] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (rootless runs drop to \$BENCH_USER themselves)"
for c in go buildah skopeo docker-registry busybox python3 tar pigz setpriv curl git; do
	command -v "$c" >/dev/null || die "$c not found (apt-get install golang buildah skopeo docker-registry busybox-static pigz)"
done

RUNS="${BENCH_RUNS:-5}"
QUICK="${BENCH_QUICK:-0}"
[ "$QUICK" = 1 ] && RUNS=1
WRITE="${BENCH_WRITE:-$([ "$QUICK" = 1 ] && echo 0 || echo 1)}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${BENCH_OUT:-/tmp/ibuild-bench-results-$STAMP}"
BUSER="${BENCH_USER-ibuildtest}"
RIG="${BENCH_RIG:-$REPO/../shared/rig}"
BKBIN="${BUILDKIT_BIN:-/tmp/rig/buildkit/bin}"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/ibuild-bench.XXXXXX)"
chmod 755 "$WORK"
NOTES="$OUT/notes.txt"
: >"$NOTES"
note() { say "note: $*"; echo "$*" >>"$NOTES"; }

REG_PID=""
BK_ROOT_UP=0
BK_RL_UP=0
cleanup() {
	set +e
	if [ "$BK_RL_UP" = 1 ]; then
		RIG_USER="$BUSER" RIG_DIR="$WORK/rig" "$RIG/rootless.sh" "$RIG/buildkit-down.sh" >/dev/null 2>&1
	fi
	if [ "$BK_ROOT_UP" = 1 ]; then
		RIG_DIR="$WORK/rig" "$RIG/buildkit-down.sh" --purge >/dev/null 2>&1
	fi
	for pf in "$WORK/pushreg.pid" "$WORK/registry.pid"; do
		[ -s "$pf" ] || continue
		pid="$(cat "$pf")"
		if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ]; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	awk -v w="$WORK" 'index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m"; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ ibuild
mkdir -p "$WORK/bin"
IBUILD="$WORK/bin/ibuild"
SRC="$REPO"
if [ -n "${BENCH_IBUILD:-}" ]; then
	say "using the ibuild binary $BENCH_IBUILD"
	cp "$BENCH_IBUILD" "$IBUILD"
	chmod 755 "$IBUILD"
	SRC=""
elif [ -n "${BENCH_IBUILD_REV:-}" ]; then
	SRC="$WORK/src"
	mkdir -p "$SRC"
	git -C "$REPO" archive "$BENCH_IBUILD_REV" | tar -x -C "$SRC"
	say "building ibuild from git $BENCH_IBUILD_REV"
else
	say "building ibuild from the working tree $REPO"
fi
if [ -n "$SRC" ]; then
	(cd "$SRC" && CGO_ENABLED=0 go build -o "$IBUILD" ./cmd/ibuild)
fi

# ---------------------------------------------------------------- registry
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
REG="127.0.0.1:$PORT"
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
  delete:
    enabled: true
http:
  addr: $REG
  secret: ibuild-bench
EOF
setsid docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 </dev/null &
REG_PID=$!
echo "$REG_PID" >"$WORK/registry.pid"
for _ in $(seq 100); do curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$REG/v2/" >/dev/null || die "registry on $REG did not start ($(tail -3 "$WORK/registry/log"))"
say "registry $REG (pid $REG_PID)"

BB="$(readlink -f "$(command -v busybox)")"
ldd "$BB" >/dev/null 2>&1 && note "warning: $BB is not static; RUN steps on the busybox base may fail"
python3 "$BENCH_DIR/mkbase.py" "$WORK/base-oci" latest --busybox "$BB" >/dev/null
for repo in library/busybox:latest library/ubuntu:latest; do
	skopeo copy --quiet --dest-tls-verify=false "oci:$WORK/base-oci:latest" "docker://$REG/$repo"
done
python3 "$BENCH_DIR/mkbase.py" "$WORK/bigbase-oci" latest --busybox "$BB" --filler-mib 100 >/dev/null
skopeo copy --quiet --dest-tls-verify=false "oci:$WORK/bigbase-oci:latest" "docker://$REG/library/bigbase:latest"
say "base images library/busybox, library/ubuntu (busybox content), library/bigbase pushed"

# ---------------------------------------------------------------- contexts
C="$WORK/ctx"
mkdir -p "$C/run20" "$C/multistage" "$C/touch-last"
python3 "$BENCH_DIR/gen-context.py" "$C/copy-many" --mark "$WORK/copy-many.done"
python3 "$BENCH_DIR/gen-context.py" "$C/multistage/src" --small 500 --big 1 --big-mib 8 \
	--mark "$WORK/multistage.done"
python3 "$BENCH_DIR/gen-context.py" "$C/touch-last/data" --small 2000 --big 5 --big-mib 10 \
	--mark "$WORK/touch-last.done"
echo initial >"$C/touch-last/last.txt"
say "contexts generated in $C"

# ----------------------------------------------------------- rootless user
if [ -z "$BUSER" ]; then
	note "rootless: not run (BENCH_USER is empty)"
else
	if ! id "$BUSER" >/dev/null 2>&1; then
		note "rootless: user $BUSER does not exist; no rootless runs"
		BUSER=""
	elif ! grep -q "^$BUSER:" /etc/subuid || ! grep -q "^$BUSER:" /etc/subgid; then
		note "rootless: $BUSER has no /etc/subuid or /etc/subgid range; no rootless runs"
		BUSER=""
	fi
fi

# ---------------------------------------------------------------- BuildKit
BUILDCTL=""
BK_ROOT_ADDR="" BK_ROOT_PID="" BK_RL_ADDR="" BK_RL_PID=""
if [ "${BENCH_NO_BUILDKIT:-0}" = 1 ]; then
	note "BuildKit: skipped (BENCH_NO_BUILDKIT=1)"
elif [ ! -x "$RIG/buildkit-up.sh" ]; then
	note "BuildKit: skipped (no rig scripts at $RIG; set BENCH_RIG)"
elif [ ! -x "$BKBIN/buildctl" ] || [ ! -x "$BKBIN/buildkitd" ]; then
	note "BuildKit: skipped (no buildkitd/buildctl in $BKBIN; run $RIG/buildkit-install.sh or set BUILDKIT_BIN)"
else
	BUILDCTL="$BKBIN/buildctl"
	mkdir -p "$WORK/rig"
	chmod 1777 "$WORK/rig"
	export RIG_REGISTRY="$REG" BUILDKIT_BIN="$BKBIN"
	if RIG_DIR="$WORK/rig" "$RIG/buildkit-up.sh" >"$WORK/bk-root-up.log" 2>&1; then
		BK_ROOT_UP=1
		BK_ROOT_ADDR="unix://$WORK/rig/buildkit/buildkitd.sock"
		BK_ROOT_PID="$(cat "$WORK/rig/buildkit/buildkitd.pid")"
		say "BuildKit (root) pid $BK_ROOT_PID"
	else
		note "BuildKit root: buildkit-up.sh failed: $(tail -2 "$WORK/bk-root-up.log" | tr '\n' ' ')"
	fi
	if [ -n "$BUSER" ]; then
		BK_RL_UP=1 # buildkit-down.sh is harmless if nothing started
		if RIG_USER="$BUSER" RIG_DIR="$WORK/rig" "$RIG/rootless.sh" "$RIG/buildkit-up.sh" \
			>"$WORK/bk-rl-up.log" 2>&1; then
			uid="$(id -u "$BUSER")"
			BK_RL_ADDR="unix://$WORK/rig/u$uid/buildkit/buildkitd.sock"
			BK_RL_PID="$(cat "$WORK/rig/u$uid/buildkit/buildkitd.pid")"
			say "BuildKit (rootless, $BUSER) pid $BK_RL_PID"
		else
			note "BuildKit rootless: buildkit-up.sh failed: $(tail -2 "$WORK/bk-rl-up.log" | tr '\n' ' ')"
		fi
	fi
fi

# -------------------------------------------------------------------- meta
GITREV="$(git -C "$REPO" rev-parse "${BENCH_IBUILD_REV:-HEAD}" 2>/dev/null || echo unknown)"
DIRTY=0
if [ -z "${BENCH_IBUILD_REV:-}" ]; then
	DIRTY="$(git -C "$REPO" status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md' 2>/dev/null | wc -l)"
fi
[ -n "${BENCH_IBUILD:-}" ] && GITREV="binary $BENCH_IBUILD (checkout at $GITREV)"
python3 - "$OUT/meta.json" <<EOF
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
m = {"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "runs": $RUNS, "quick": "$QUICK" == "1",
     "command": os.environ["CMDLINE"],
     "ibuild_commit": "$GITREV", "ibuild_dirty_files": int("$DIRTY"),
     "go": sh("go version"), "buildah": sh("buildah --version"),
     "buildkit": sh("'$BUILDCTL' --version") if "$BUILDCTL" else "",
     "skopeo": sh("skopeo --version"), "pigz": sh("pigz --version 2>&1"),
     "kernel": platform.release(), "cpus": os.cpu_count(),
     "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
     "mem": sh("free -g | awk '/Mem:/ {print \$2 \" GiB\"}'"),
     "loadavg_start": open("/proc/loadavg").read().split()[:3],
     "buildah_driver": "${BENCH_BUILDAH_DRIVER:-overlay}",
     "buildah_isolation": "${BENCH_BUILDAH_ISOLATION:-chroot}",
     "rootless_user": "$BUSER", "notes": open("$NOTES").read().splitlines()}
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF

# -------------------------------------------------------------------- run
say "measuring ($RUNS run(s) each); results in $OUT"
BENCH_WORK="$WORK" BENCH_OUT="$OUT" BENCH_DIR="$BENCH_DIR" BENCH_REPO="$REPO" \
	BENCH_RUNS="$RUNS" BENCH_REGISTRY="$REG" IBUILD="$IBUILD" BENCH_USER="$BUSER" \
	BUILDCTL="$BUILDCTL" BK_ROOT_ADDR="$BK_ROOT_ADDR" BK_ROOT_PID="$BK_ROOT_PID" \
	BK_RL_ADDR="$BK_RL_ADDR" BK_RL_PID="$BK_RL_PID" \
	python3 "$BENCH_DIR/bench.py"
python3 - "$OUT/meta.json" "$(($(date +%s) - START))" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
m["duration_s"] = int(sys.argv[2])
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
python3 "$BENCH_DIR/report.py" "$OUT" >"$OUT/BENCHMARKS.md"
if [ "$WRITE" = 1 ]; then
	cp "$OUT/BENCHMARKS.md" "$REPO/BENCHMARKS.md"
	say "wrote $REPO/BENCHMARKS.md"
fi
say "report: $OUT/BENCHMARKS.md"
