// Package testenv gives ibuild's tests the outside world they need: a registry
// server on the loopback interface, a busybox base image pushed to it, the
// ibuild binary, and an unprivileged user to run that binary as.
//
// Every helper that finds a prerequisite missing calls [Require], which skips
// the test with a message naming what to install, or fails it when
// IBUILD_TEST_REQUIRE=1. `make test` installs the prerequisites and sets that
// variable, so a check can never pass there by being skipped.
//
// Prerequisites (Debian packages): docker-registry, busybox-static, uidmap;
// for the rootless tests an unprivileged user (IBUILD_TEST_USER, default
// "ibuildtest") with a range in /etc/subuid and /etc/subgid, which
// scripts/test-deps.sh creates when run as root.
package testenv

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing prerequisite
// from a skip into a failure when set to "1".
const RequireEnv = "IBUILD_TEST_REQUIRE"

// Require stops the test because what is missing: it skips the test with a
// message naming what, or fails it when IBUILD_TEST_REQUIRE=1.
func Require(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("missing prerequisite (%s=1): %s; `make test` as root sets it up",
			RequireEnv, what)
		return
	}
	t.Skipf("skipped: needs %s; `make test` as root sets it up", what)
}

// Check handles an error from a helper that ran outside any test, such as
// [StartRegistry] in TestMain: a missing program goes to [Require], any other
// error fails the test, and nil does nothing.
func Check(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		Require(t, err.Error())
	default:
		t.Fatal(err)
	}
}
