package main

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestLiveViewInPTY runs a build whose RUN step prints for about a second
// with stderr on a pseudo-terminal: the live view must show the step's
// output while it runs, end with every step collapsed to one line, use
// colours, and use none with NO_COLOR. A failing build ends with the error
// report below the view.
func TestLiveViewInPTY(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	c := newCLI(t)
	root := t.TempDir()
	ctx := c.context(map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.2; done\n" +
			"COPY a /a\n",
		"a": "a",
	})
	args := []string{"--root", root, "--registry-mirror", reg, "-t", "live", ctx}

	raw, code := runInPTY(t, c, nil, args...)
	if code != 0 {
		t.Fatalf("build in a pty: exit %d\n%s", code, raw)
	}
	term := newVT(40)
	term.Write([]byte(raw))
	screen := strings.Join(term.screen(), "\n")
	if !strings.Contains(raw, "=> => # tick-") {
		t.Errorf("the RUN step's output was never shown while it ran:\n%q", raw)
	}
	for _, want := range []string{"FINISHED", " => [1/3] FROM busybox", " => [2/3] RUN for i in",
		" => [3/3] COPY a /a", " => exporting to image"} {
		if strings.Count(screen, want) != 1 {
			t.Errorf("final screen has %q %d times, want once:\n%s", want,
				strings.Count(screen, want), screen)
		}
	}
	if strings.Contains(screen, "=> => #") {
		t.Errorf("output lines stayed after the steps finished:\n%s", screen)
	}
	if !strings.Contains(raw, blue+" => ") {
		t.Errorf("no colour on a terminal:\n%q", raw)
	}

	noColour, _ := runInPTY(t, c, []string{"NO_COLOR=1"}, args...)
	if codes := sgrCode.FindAllString(noColour, -1); len(codes) > 0 {
		t.Errorf("NO_COLOR=1: %d colour codes, first %q", len(codes), codes[0])
	}
	if !strings.Contains(noColour, "\x1b[2K") || !strings.Contains(noColour, "FINISHED") {
		t.Errorf("NO_COLOR=1 should keep the live view:\n%q", noColour)
	}

	bad := c.context(map[string]string{"Dockerfile": "FROM busybox\nRUN echo doomed; exit 7\n"})
	raw, code = runInPTY(t, c, []string{"NO_COLOR=1"}, "--root", root, "--registry-mirror", reg,
		bad)
	term = newVT(40)
	term.Write([]byte(raw))
	screen = strings.Join(term.screen(), "\n")
	if code != 1 {
		t.Errorf("failed build: exit %d, want 1", code)
	}
	for _, want := range []string{" => ERROR [2/2] RUN echo doomed; exit 7", "doomed",
		"Dockerfile:2", "ERROR: process \"/bin/sh -c echo doomed; exit 7\" did not complete " +
			"successfully: exit code: 7"} {
		if !strings.Contains(screen, want) {
			t.Errorf("failed build: screen lacks %q:\n%s", want, screen)
		}
	}
}

// runInPTY runs ibuild with stderr (and stdin) on a new 40x100
// pseudo-terminal and returns what it wrote there and its exit code.
func runInPTY(t *testing.T, c *cli, env []string, args ...string) (string, int) {
	t.Helper()
	master, slave := openPTY(t, 40, 100)
	defer master.Close()
	cmd := exec.Command(testenv.Binary(t), args...)
	cmd.Dir, cmd.Env = c.dir, append(c.environ(), env...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, slave
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&buf, master) // ends with EIO once the last slave fd is closed
		close(copied)
	}()
	err := cmd.Wait()
	<-copied
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return buf.String(), code
}
