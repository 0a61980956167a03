package testenv

import (
	"net/http"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	addr := Registry(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("Registry() = %q, want 127.0.0.1:PORT", addr)
	}
	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/: %s, want 200", resp.Status)
	}
	if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
		t.Errorf("Docker-Distribution-Api-Version = %q, want registry/2.0", v)
	}
}

func TestStartRegistryStop(t *testing.T) {
	addr, stop, err := StartRegistry()
	Check(t, err)
	stop()
	if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /v2/ after stop: %s, want a refused connection", resp.Status)
	}
}
