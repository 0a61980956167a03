package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestPushCommand pushes images of the store to a loopback registry and
// pulls them back.
func TestPushCommand(t *testing.T) {
	reg := testenv.Registry(t)
	c := newCLI(t)
	root, _, otherID := storeImages(t, c)
	localDigest := inspectDigest(t, c, root, "app:1")

	dst := reg + "/team/app:1"
	r := c.ok("push", "--root", root, "--progress=plain", "app:1", dst)
	if want := dst + ": digest: " + localDigest + " size: "; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("push printed %q, want it to start with %q", r.stdout, want)
	}
	for _, want := range []string{"#1 pushing " + dst, "pushing layers", "done", "#1 DONE"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("push progress lacks %q:\n%s", want, r.stderr)
		}
	}
	ref, err := name.ParseReference(dst, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pulling back %s: %v", dst, err)
	}
	if d, _ := img.Digest(); d.String() != localDigest {
		t.Errorf("registry has %s, the store %s", d, localDigest)
	}

	named := reg + "/team/other:2"
	c.ok("tag", "--root", root, otherID, named)
	c.ok("push", "--root", root, "-q", named)
	if _, err := remote.Image(mustRef(t, named)); err != nil {
		t.Errorf("push without DESTINATION did not reach %s: %v", named, err)
	}
	c.fails(2, []string{"is not a name to push to"}, "push", "--root", root, otherID)
	locked := startAuthRegistry(t) + "/team/app:1"
	c.fails(1, []string{"ERROR: pushing " + locked, "HTTP 401 Unauthorized",
		"check the credentials"}, "push", "--root", root, "app:1", locked)
	c.fails(1, []string{"no such image: nope"}, "push", "--root", root, "nope", dst)
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startAuthRegistry answers /v2/ with 200 for user:secret and with a
// basic-auth challenge otherwise.
func startAuthRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "secret" {
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestLoginLogout logs in to a registry that checks basic auth, checks
// Docker's config file, and logs out.
func TestLoginLogout(t *testing.T) {
	reg := startAuthRegistry(t)
	c := newCLI(t)
	cfgDir := t.TempDir()
	c.env = append(c.env, "DOCKER_CONFIG="+cfgDir)
	cfgPath := filepath.Join(cfgDir, "config.json")
	before := `{"auths":{"other.example":{"auth":"eDp5"}},"experimental":"enabled"}`
	if err := os.WriteFile(cfgPath, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}

	r := c.run(strings.NewReader("wrong\n"), "login", "-u", "user", "--password-stdin", reg)
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 401") ||
		!strings.Contains(r.stderr, "check the user name") {
		t.Errorf("login with a wrong password: exit %d\n%s", r.code, r.stderr)
	}
	r = c.run(strings.NewReader("secret\n"), "login", "-u", "user", "--password-stdin", reg)
	if r.code != 0 || r.stdout != "Login Succeeded\n" {
		t.Fatalf("login: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cfg := readJSON(t, cfgPath)
	auths := cfg["auths"].(map[string]any)
	entry, _ := auths[reg].(map[string]any)
	if want := base64.StdEncoding.EncodeToString([]byte("user:secret")); entry["auth"] != want {
		t.Errorf("auths[%s] = %v, want auth %s", reg, auths[reg], want)
	}
	if cfg["experimental"] != "enabled" || auths["other.example"] == nil {
		t.Errorf("login lost other settings: %v", cfg)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v (%v), want 0600", fi.Mode(), err)
	}

	if out := c.ok("logout", reg).stdout; out != "Removing login credentials for "+reg+"\n" {
		t.Errorf("logout printed %q", out)
	}
	if _, ok := readJSON(t, cfgPath)["auths"].(map[string]any)[reg]; ok {
		t.Errorf("logout left the credentials of %s", reg)
	}
	if out := c.ok("logout", reg).stdout; out != "Not logged in to "+reg+"\n" {
		t.Errorf("second logout printed %q", out)
	}
	c.fails(2, []string{"-u USER"}, "login", "--password-stdin", reg)
	c.fails(2, []string{"--password-stdin"}, "login", reg)
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}
