package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestInterruptRootless is TestInterruptBuild for an unprivileged user:
// ibuild runs in a user namespace of its own (newuidmap), whose processes
// must go when it goes too, and whose tmpfs keeps the secret off the disk.
func TestInterruptRootless(t *testing.T) {
	user := testenv.Unprivileged(t)
	reg := testenv.Registry(t)
	bin := testenv.Binary(t)
	work := testenv.UserDir(t, user)
	root := filepath.Join(work, "root")
	ctxDir := filepath.Join(work, "ctx")
	secret := randomHex(t, "rootless-secret")
	writeFiles(t, work, map[string]string{"secret": secret})
	base0 := pushBase(t, reg, "rootless/base:0", 1<<20)
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base0 + "\nRUN echo v1 > /v\n"})
	chownTree(t, work, user)
	if code := startIbuildAs(t, user, work, "--root", root, "-t", "v1", "--progress", "plain",
		ctxDir).wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("first build: exit %d", code)
	}
	check := interruptCheck{root: root, bin: bin, tag: "v1", want: storeImage(t, root, "v1"),
		secret: secret}
	for i := range iterations() / 2 {
		base := pushBase(t, reg, fmt.Sprintf("rootless/base:%d", i+1), 4<<20)
		writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base + "\n" +
			"RUN --mount=type=secret,id=s,uid=1000 test -s /run/secrets/s && sleep 30\n"})
		chownTree(t, ctxDir, user)
		r := startIbuildAs(t, user, work, "--root", root, "-t", "v1", "--progress", "plain",
			"--secret", "id=s,src="+filepath.Join(work, "secret"), ctxDir)
		sig := signalFor(i)
		if sig == syscall.SIGKILL || i%2 == 1 {
			r.waitFor(t, "RUN --mount=type=secret", 60*time.Second)
			time.Sleep(randomDelay(100*time.Millisecond, 600*time.Millisecond))
		} else {
			time.Sleep(randomDelay(0, 2*time.Second))
		}
		if exited(r.cmd.Process.Pid) {
			r.wait(t, exitBound)
			t.Fatalf("iteration %d: the build ended before the signal:\n%s", i, r.out.String())
		}
		syscall.Kill(r.cmd.Process.Pid, sig)
		if code := r.wait(t, exitBound); code == 0 {
			t.Fatalf("iteration %d: exit 0 after %v:\n%s", i, sig, r.out.String())
		}
		t.Logf("iteration %d, %v during: %s", i, sig, lastLine(r.out.String()))
		check.verify(t, r, sig)
	}
}

// chownTree gives dir and what is below it to user.
func chownTree(t *testing.T, dir, user string) {
	t.Helper()
	cmd := exec.Command("chown", "-R", user+":", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", dir, err, out)
	}
}
