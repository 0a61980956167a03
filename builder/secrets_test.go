package builder

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestSecretsNeverStored builds with a file secret and an environment
// secret used every way RUN --mount=type=secret allows, twice on one store
// (the second build takes steps from the cache), then looks for the secret
// bytes everywhere: every file under the store root (blobs decompressed,
// unpacked layers, the cache, tmp), the image config and history, and
// everything the build reported.
func TestSecretsNeverStored(t *testing.T) {
	fileSecret := randomSecret(t, "file")
	envSecret := randomSecret(t, "env")
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(fileSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IBUILD_TEST_SECRET", envSecret)
	fileSum, envSum := sha256hex(fileSecret), sha256hex(envSecret)

	df := "FROM busybox\n" +
		"RUN --mount=type=secret,id=tok test \"$(sha256sum < /run/secrets/tok | cut -c1-64)\" = " +
		fileSum + " && echo file > /ok-file\n" +
		"RUN --mount=type=secret,id=tok,target=/etc/app/token,uid=1000,mode=0440 " +
		"test \"$(stat -c '%u %a' /etc/app/token)\" = '1000 440' && " +
		"test \"$(sha256sum < /etc/app/token | cut -c1-64)\" = " + fileSum + " && echo target > /ok-target\n" +
		"RUN --mount=type=secret,id=envtok,env=TOKEN " +
		"test \"$(printf %s \"$TOKEN\" | sha256sum | cut -c1-64)\" = " + envSum + " && echo env > /ok-env\n" +
		"RUN --mount=type=secret,id=envtok,env=BOTH,target=/both " +
		"test -n \"$BOTH\" -a -s /both && echo both > /ok-both\n" +
		"RUN --mount=type=secret,id=absent echo optional > /ok-optional\n"
	root := t.TempDir()
	ctxDir := t.TempDir()
	secrets := map[string]Secret{"tok": {File: secretFile}, "envtok": {Env: "IBUILD_TEST_SECRET"}}
	for i := range 2 {
		log := &progressLog{}
		img, err := buildImage(t, ctxDir, df, withBusybox(t, func(o *Options) {
			o.Root, o.Secrets, o.Progress = root, secrets, log.event
		}))
		if err != nil {
			t.Fatalf("build %d: %v", i+1, err)
		}
		tree := flatten(t, img)
		for _, p := range []string{"ok-file", "ok-target", "ok-env", "ok-both", "ok-optional"} {
			if _, ok := tree[p]; !ok {
				t.Errorf("build %d: /%s missing: a secret step did not see its secret", i+1, p)
			}
		}
		checkNotInLayers(t, img, "run", "etc/app", "both")
		if _, err := Export(context.Background(), img, ExportOptions{Root: root,
			Tags: []string{"secrets:test"}}); err != nil {
			t.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{fileSecret, envSecret} {
			if bytes.Contains(cfg, []byte(s)) {
				t.Errorf("build %d: the image config holds a secret", i+1)
			}
			if strings.Contains(log.String(), s) {
				t.Errorf("build %d: the build output holds a secret", i+1)
			}
		}
	}
	for _, s := range []string{fileSecret, envSecret} {
		for _, f := range filesHolding(t, root, []byte(s)) {
			t.Errorf("%s holds a secret", f)
		}
	}
}

// TestSecretRequired checks that a required secret that was not given
// stops the build with an error naming it.
func TestSecretRequired(t *testing.T) {
	_, _, err := buildIn(t, t.TempDir(), t.TempDir(),
		"FROM busybox\nRUN --mount=type=secret,id=needed,required true\n", nil)
	if err == nil || !strings.Contains(err.Error(), `secret "needed" is required`) {
		t.Errorf("a required secret that was not given: %v", err)
	}
}

func randomSecret(t *testing.T, kind string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ibuild-" + kind + "-secret-" + hex.EncodeToString(b)
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// filesHolding lists the files below root whose content (decompressed when
// it is gzip or zstd), name or link target holds needle.
func filesHolding(t *testing.T, root string, needle []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if bytes.Contains([]byte(p), needle) {
			found = append(found, p)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if target, _ := os.Readlink(p); strings.Contains(target, string(needle)) {
				found = append(found, p)
			}
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, needle) || bytes.Contains(decompressed(b), needle) {
				found = append(found, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// decompressed returns b decompressed when it is a gzip or zstd stream,
// else nil.
func decompressed(b []byte) []byte {
	var r io.Reader
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		r = zr
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		defer zr.Close()
		r = zr
	default:
		return nil
	}
	out, _ := io.ReadAll(r)
	return out
}
