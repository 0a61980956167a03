"""builders.py -- how each builder builds, resets to cold, and is measured.

Every builder gets the same Dockerfile (-f, outside the context except for
the rethinkdb example) and the same context directory. Variants:
  ibuild-oci    ibuild -o type=oci,dest=DIR       (stores the image AND exports it)
  ibuild-store  ibuild -t NAME                     (local store only, no export)
  buildah       buildah bud --layers -t NAME       (its store only, no export)
  buildkit      buildctl build --output type=oci,dest=DIR,tar=false (export; the
                daemon's cache is its store)
"""
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import measure


class User:
    """Who runs the builds: root, or the unprivileged bench user via setpriv."""

    def __init__(self, name, work, account=None):
        self.name = name  # "root" or "rootless"
        self.account = account  # login name for rootless
        self.dir = os.path.join(work, name)
        self.env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
                    "HOME": os.path.join(self.dir, "home"), "LANG": "C.UTF-8",
                    "TMPDIR": os.path.join(self.dir, "tmp")}
        if account:
            self.env.update({"USER": account, "LOGNAME": account,
                             "XDG_RUNTIME_DIR": os.path.join(self.dir, "xdg-run"),
                             "XDG_DATA_HOME": os.path.join(self.dir, "xdg-data"),
                             "XDG_CONFIG_HOME": os.path.join(self.dir, "xdg-config"),
                             "XDG_CACHE_HOME": os.path.join(self.dir, "xdg-cache")})

    def setup(self):
        for k in ("HOME", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                  "XDG_CACHE_HOME"):
            if k in self.env:
                os.makedirs(self.env[k], exist_ok=True)
        if self.account:
            os.chmod(self.env["XDG_RUNTIME_DIR"], 0o700)
            subprocess.run(["chown", "-R", self.account + ":", self.dir], check=True)

    def mkdir(self, path):
        os.makedirs(path, exist_ok=True)
        if self.account:
            shutil.chown(path, self.account, self.account)
        return path

    def cmd(self, argv, extra_env=None):
        """(argv, env) that runs argv as this user with its environment."""
        env = dict(self.env)
        env.update(extra_env or {})
        if not self.account:
            return argv, env
        wrap = ["setpriv", "--reuid=" + self.account, "--regid=" + self.account,
                "--init-groups", "env", "-i"] + ["%s=%s" % kv for kv in sorted(env.items())]
        return wrap + argv, {"PATH": env["PATH"]}


def rmtree(path):
    """Remove path as root, unmounting anything left mounted below it first."""
    if not os.path.lexists(path):
        return
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        mnts = [ln.split()[1] for ln in f]
    for m in sorted((m for m in mnts if m == real or m.startswith(real + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--", path], check=False)


class Builder:
    """Base class: subclasses define argv(); measure() runs one build."""
    name = "?"
    exports = "?"

    def __init__(self, cfg, user):
        self.cfg, self.user = cfg, user
        self.dir = user.mkdir(os.path.join(user.dir, self.name))
        self.out = os.path.join(self.dir, "out")

    def reset(self):
        """Back to cold: empty store/cache (base images stay in the registry)."""

    def prepare_run(self):
        rmtree(self.out)

    def argv(self, wl, nocache=False, extra=None):
        raise NotImplementedError

    def measure(self, argv, log):
        a, env = self.user.cmd(argv, self.extra_env())
        return measure.run(a, env, log)

    def extra_env(self):
        return {}


class IbuildOCI(Builder):
    name = "ibuild-oci"
    exports = "OCI layout dir (and the local store)"

    def store(self):
        return os.path.join(self.dir, "store")

    def reset(self):
        rmtree(self.store())

    def argv(self, wl, nocache=False, extra=None):
        a = [self.cfg.ibuild, "--root", self.store(), "--registry-mirror", self.cfg.registry,
             "--progress", "plain", "-f", wl.dockerfile]
        if nocache:
            a.append("--no-cache")
        return a + (extra if extra is not None else self.output(wl)) + [wl.context]

    def output(self, wl):
        return ["-o", "type=oci,dest=" + self.out]


class IbuildStore(IbuildOCI):
    name = "ibuild-store"
    exports = "none (local store, -t)"

    def output(self, wl):
        return ["-t", "bench/%s:latest" % wl.name]


class Buildah(Builder):
    name = "buildah"
    exports = "none (its store, -t)"

    def __init__(self, cfg, user):
        super().__init__(cfg, user)
        self.graph = os.path.join(self.dir, "storage")
        self.run = os.path.join(self.dir, "runroot")
        d = self.dir
        with open(os.path.join(d, "registries.conf"), "w") as f:
            f.write('unqualified-search-registries = ["docker.io"]\n'
                    'short-name-mode = "permissive"\n'
                    '[[registry]]\nprefix = "docker.io"\nlocation = "%s"\ninsecure = true\n'
                    '[[registry]]\nlocation = "%s"\ninsecure = true\n'
                    % (cfg.registry, cfg.registry))
        with open(os.path.join(d, "storage.conf"), "w") as f:
            f.write('[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n'
                    % (cfg.buildah_driver, self.graph, self.run))
        with open(os.path.join(d, "policy.json"), "w") as f:
            f.write('{"default":[{"type":"insecureAcceptAnything"}]}\n')
        with open(os.path.join(d, "containers.conf"), "w") as f:
            f.write('[network]\nnetwork_config_dir = "%s"\n' % os.path.join(d, "cni"))
        if user.account:
            subprocess.run(["chown", "-R", user.account + ":", d], check=True)

    def extra_env(self):
        d = self.dir
        return {"CONTAINERS_REGISTRIES_CONF": os.path.join(d, "registries.conf"),
                "CONTAINERS_STORAGE_CONF": os.path.join(d, "storage.conf"),
                "CONTAINERS_CONF": os.path.join(d, "containers.conf"),
                "BUILDAH_ISOLATION": self.cfg.buildah_isolation}

    def base(self):
        return ["buildah", "--root", self.graph, "--runroot", self.run,
                "--storage-driver", self.cfg.buildah_driver]

    def reset(self):
        rmtree(self.graph)
        rmtree(self.run)

    def prepare_run(self):
        pass

    def argv(self, wl, nocache=False, extra=None):
        a = self.base() + ["bud", "--layers", "--isolation", self.cfg.buildah_isolation,
                           "--signature-policy", os.path.join(self.dir, "policy.json"),
                           "-t", "localhost/bench/%s:latest" % wl.name, "-f", wl.dockerfile]
        if nocache:
            a.append("--no-cache")
        return a + [wl.context]

    def push_argv(self, wl, dest):
        return self.base() + ["push", "--tls-verify=false", "--signature-policy",
                              os.path.join(self.dir, "policy.json"),
                              "localhost/bench/%s:latest" % wl.name, "docker://" + dest]


class BuildKit(Builder):
    name = "buildkit"
    exports = "OCI layout dir (tar=false); cache in the daemon"

    def __init__(self, cfg, user, addr, pid):
        super().__init__(cfg, user)
        self.addr, self.pid = addr, pid

    def reset(self):
        a, env = self.user.cmd([self.cfg.buildctl, "--addr", self.addr, "prune", "--all"])
        subprocess.run(a, env=env, check=True, stdout=subprocess.DEVNULL)

    def argv(self, wl, nocache=False, extra=None):
        a = [self.cfg.buildctl, "--addr", self.addr, "build", "--progress", "plain",
             "--frontend", "dockerfile.v0", "--local", "context=" + wl.context,
             "--local", "dockerfile=" + os.path.dirname(wl.dockerfile),
             "--opt", "filename=" + os.path.basename(wl.dockerfile)]
        if nocache:
            a.append("--no-cache")
        return a + ["--output", extra or "type=oci,dest=%s,tar=false" % self.out]

    def measure(self, argv, log):
        """buildctl's own rusage plus the daemon tree's CPU and peak RSS."""
        measure.tree_reset_hwm(self.pid)
        cpu0 = measure.tree_cpu(self.pid)
        r = super().measure(argv, log)
        daemon_cpu = measure.tree_cpu(self.pid) - cpu0
        r["daemon_cpu"] = daemon_cpu
        r["utime"] += daemon_cpu  # the user/sys split is not kept for the daemon
        r["rss_kib"] += measure.tree_hwm_kib(self.pid)
        return r


class PushRegistry:
    """An empty registry:2 for one push, started and stopped by PID."""

    def __init__(self, cfg, port):
        self.cfg, self.port = cfg, port
        self.dir = os.path.join(cfg.work, "pushreg")
        self.pidfile = os.path.join(cfg.work, "pushreg.pid")
        self.proc = None

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        rmtree(self.dir)
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "config.yml")
        with open(conf, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s/data\n"
                    "http:\n  addr: %s\n  secret: bench-push\n" % (self.dir, self.addr()))
        log = open(os.path.join(self.cfg.work, "pushreg.log"), "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=log,
                                     stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        with open(self.pidfile, "w") as f:
            f.write(str(self.proc.pid))
        for _ in range(300):
            try:
                urllib.request.urlopen("http://%s/v2/" % self.addr(), timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("push registry on %s did not start" % self.addr())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        rmtree(self.dir)
