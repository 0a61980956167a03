package builder

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func TestChmod(t *testing.T) {
	tests := []struct {
		spec  string
		mode  int64
		isDir bool
		want  int64
	}{
		{"755", 0o644, false, 0o755},
		{"0640", 0o4755, false, 0o640},
		{"4755", 0o644, false, 0o4755},
		{"1777", 0o755, true, 0o1777},
		{"u+x", 0o644, false, 0o744},
		{"+x", 0o644, false, 0o755},
		{"a-w", 0o666, false, 0o444},
		{"go-rwx", 0o755, true, 0o700},
		{"go=", 0o777, false, 0o700},
		{"u=rw,go=r", 0o700, false, 0o644},
		{"a+X", 0o644, false, 0o644},
		{"a+X", 0o744, false, 0o755},
		{"a+X", 0o600, true, 0o711},
		{"a=rX", 0o755, true, 0o444}, // X only counts with "+" (BSD setmode, as BuildKit)
		{"g=u", 0o750, false, 0o770},
		{"o=u-w", 0o750, false, 0o755},
		{"u+s,g+s", 0o755, false, 0o6755},
		{"o+s", 0o755, false, 0o755},
		{"+t", 0o755, true, 0o1755},
		{"u-s", 0o4755, false, 0o755},
	}
	for _, tc := range tests {
		spec, err := parseChmod(tc.spec)
		if err != nil {
			t.Errorf("parseChmod(%q): %v", tc.spec, err)
			continue
		}
		if got := spec.apply(tc.mode, tc.isDir); got != tc.want {
			t.Errorf("%q on %04o (dir %v) = %04o, want %04o", tc.spec, tc.mode, tc.isDir, got, tc.want)
		}
	}
	for _, bad := range []string{"8", "07778", "99999", "u", "u+q", "x+", "a+r,", "+r=wz"} {
		if _, err := parseChmod(bad); err == nil {
			t.Errorf("parseChmod(%q) succeeded, want an error", bad)
		}
	}
}

func TestDestSpec(t *testing.T) {
	tests := []struct {
		dest, workdir, want string
		slash               bool
	}{
		{"/app", "/w", "/app", false},
		{"/app/", "/w", "/app", true},
		{"app", "/w", "/w/app", false},
		{".", "/w", "/w", true},
		{"./", "", "/", true},
		{"../../x/", "/w", "/x", true},
		{"/", "/w", "/", true},
	}
	for _, tc := range tests {
		got, slash := destSpec(tc.dest, tc.workdir)
		if got != tc.want || slash != tc.slash {
			t.Errorf("destSpec(%q, %q) = %q, %v; want %q, %v",
				tc.dest, tc.workdir, got, slash, tc.want, tc.slash)
		}
	}
}

func TestSourceKinds(t *testing.T) {
	tests := []struct {
		src         string
		git, http   bool
		urlFileName string
	}{
		{"https://example.com/a/b.tar.gz", false, true, "b.tar.gz"},
		{"http://example.com/", false, true, "__unnamed__"},
		{"http://example.com", false, true, "__unnamed__"},
		{"https://example.com/repo.git", true, false, "repo.git"},
		{"https://example.com/repo.git#main:sub", true, false, "repo.git"},
		{"git@github.com:moby/buildkit.git", true, false, ""},
		{"github.com/moby/buildkit", true, false, ""},
		{"src/file.txt", false, false, ""},
	}
	for _, tc := range tests {
		got := []bool{isGitSource(tc.src), isHTTPSource(tc.src)}
		if diff := cmp.Diff([]bool{tc.git, tc.http}, got); diff != "" {
			t.Errorf("%s [git http] (-want +got):\n%s", tc.src, diff)
		}
		if tc.urlFileName != "" && urlFileName(tc.src) != tc.urlFileName {
			t.Errorf("urlFileName(%q) = %q, want %q", tc.src, urlFileName(tc.src), tc.urlFileName)
		}
	}
}

func TestCleanRelAndWildcards(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "/a/b/": "a/b", "../../a": "a", ".": "", "/": "", "a/../../b": "b",
	} {
		if got := cleanRel(in); got != want {
			t.Errorf("cleanRel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"*.go": true, "a?": true, "[ab]": true, `a\*`: false, "plain/path": false,
	} {
		if got := hasWildcards(in); got != want {
			t.Errorf("hasWildcards(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCopyHistory(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "a", content: "a"}, {path: "b", content: "b"}})
	df := "FROM scratch\nARG D=/dst/\nCOPY --link --chown=1:2 --chmod=644 a b $D\n" +
		"ADD a /x\nCOPY a <<EOF /h/\nhi\nEOF\n" +
		"COPY --parents --exclude=z a /p/\n"
	img, err := buildImage(t, ctxDir, df, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			got = append(got, h.CreatedBy)
		}
	}
	want := []string{
		"COPY --chown=1:2 --chmod=644 a b /dst/",
		"ADD a /x",
		"COPY a <<EOF /h/",
		"COPY --parents a /p/",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestCopyTimesAndCapabilities(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "d/f", content: "f"}, {path: "cap", content: "c"}})
	old := time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"d/f", "d"} {
		if err := os.Chtimes(filepath.Join(ctxDir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// A capability set (cap_net_raw+ep), as setcap(8) writes it.
	capv := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	hasCap := unix.Lsetxattr(filepath.Join(ctxDir, "cap"), "security.capability",
		[]byte(capv), 0) == nil
	df := "FROM scratch\nCOPY d/ /d/\nCOPY cap /cap\n"
	img, err := buildImage(t, ctxDir, df, nil)
	if err != nil {
		t.Fatal(err)
	}
	times := mtimes(t, img)
	for _, p := range []string{"d", "d/f"} {
		if !times[p].Equal(old) {
			t.Errorf("mtime of /%s = %v, want %v", p, times[p], old)
		}
	}
	if hasCap {
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if caps := layerXattr(t, layers[len(layers)-1], "cap", "security.capability"); caps != capv {
			t.Errorf("security.capability of /cap = %q, want %q", caps, capv)
		}
	} else {
		t.Log("cannot set security.capability here; not checking it")
	}

	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	img, err = buildImage(t, ctxDir, df, func(o *Options) { o.Epoch = &epoch })
	if err != nil {
		t.Fatal(err)
	}
	for p, mt := range mtimes(t, img) {
		if mt.After(epoch) {
			t.Errorf("mtime of /%s = %v, after the epoch %v", p, mt, epoch)
		}
	}
}

// layerXattr returns the xattr key of the entry name in layer l.
func layerXattr(t *testing.T, l v1.Layer, name, key string) string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("finding %s in the layer: %v", name, err)
		}
		if strings.Trim(hdr.Name, "/") == name {
			return hdr.PAXRecords["SCHILY.xattr."+key]
		}
	}
}
