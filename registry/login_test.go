package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startBasicAuthRegistry answers /v2/ with 200 for user:secret and with a
// basic-auth challenge otherwise.
func startBasicAuthRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "secret" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCheckLogin(t *testing.T) {
	authReg := startBasicAuthRegistry(t)
	openReg := startRegistry(t)
	tests := []struct {
		name, host, user, pass string
		wantErr                []string
	}{
		{name: "right password", host: authReg, user: "user", pass: "secret"},
		{name: "no auth needed", host: openReg, user: "any", pass: "thing"},
		{name: "wrong password", host: authReg, user: "user", pass: "nope",
			wantErr: []string{"logging in to " + authReg + " as user", "HTTP 401",
				"check the user name"}},
		{name: "nothing listening", host: closedAddr(t), user: "u", pass: "p",
			wantErr: []string{"logging in to"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := testOptions().CheckLogin(context.Background(), tc.host, tc.user, tc.pass)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("CheckLogin: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckLogin succeeded, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestPushProgress checks that Options.Progress sees the upload grow to its
// total.
func TestPushProgress(t *testing.T) {
	reg := startRegistry(t)
	img := twoLayerImage(t)
	var last, total int64
	calls := 0
	o := testOptions()
	o.Progress = func(sent, tot int64) { calls, last, total = calls+1, sent, tot }
	ref := reg + "/progress/app:1"
	if _, err := Push(context.Background(), img, ref, o); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != total || total == 0 {
		t.Errorf("progress: %d calls, last %d of %d; want calls ending at the total",
			calls, last, total)
	}
}
