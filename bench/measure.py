"""measure.py -- run one command and measure it; read a daemon's process tree.

Used by bench.py (stdlib only). A measured command is forked and exec'd
directly (no shell, no /usr/bin/time) and reaped with os.wait4, which is what
GNU time does: user and system CPU include every descendant that was waited
for (ibuild's re-exec into its namespaces, RUN processes, buildah's
re-exec, tar and pigz under sh), and ru_maxrss is the largest resident set of
any single process in that tree. BuildKit does its work in a daemon, so for
it the daemon's process tree is read from /proc before and after.
"""
import os
import time

CLK = os.sysconf("SC_CLK_TCK")


def run(argv, env, log_path, cwd=None):
    """Run argv with env; stdout+stderr to log_path. Returns a result dict."""
    with open(log_path, "ab") as log:
        log.write(("\n$ %s\n" % " ".join(argv)).encode())
        log.flush()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            except BaseException as e:  # noqa: BLE001 -- report any exec failure
                os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "utime": ru.ru_utime, "stime": ru.ru_stime,
            "rss_kib": ru.ru_maxrss, "rc": rc}


def tree(root_pid):
    """PIDs of root_pid and all its descendants (live processes)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(root_pid):
    """CPU seconds (user+sys, own and reaped children) of the whole tree."""
    total = 0
    for p in tree(root_pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        # fields[11..14] = utime stime cutime cstime (stat fields 14..17)
        total += sum(int(x) for x in fields[11:15])
    return total / CLK


def tree_reset_hwm(root_pid):
    """Reset the peak RSS (VmHWM) of every process in the tree."""
    for p in tree(root_pid):
        try:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")
        except OSError:
            pass


def tree_hwm_kib(root_pid):
    """Sum of VmHWM (peak RSS since the last reset) over the tree, in KiB."""
    total = 0
    for p in tree(root_pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total
