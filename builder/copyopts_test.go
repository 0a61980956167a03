package builder

import (
	"archive/tar"
	"testing"
)

func TestCopySymlinks(t *testing.T) {
	files := []ctxFile{
		{path: "realdir/a.txt", content: "real"},
		{path: "realdir/rel-link", link: "a.txt"},
		{path: "realdir/abs-link", link: "/etc/hostname"},
		{path: "linkdir", link: "realdir"},
		{path: "linkfile", link: "realdir/a.txt"},
		{path: "abs", link: "/etc/passwd"},
		{path: "etc/passwd", content: "context passwd"},
		{path: "out", link: "../../../../../../etc/hostname"},
	}
	runCopyCases(t, []copyCase{{
		name: "named symlinks are followed, inner ones kept",
		dockerfile: "FROM scratch\nCOPY linkdir /viadir/\nCOPY linkfile /single.txt\n" +
			"COPY realdir /whole/\nCOPY link* /globbed/\n",
		files: files,
		want: map[string]node{
			"viadir/a.txt":     reg("real", 0o644),
			"viadir/rel-link":  symlink("a.txt"),
			"single.txt":       reg("real", 0o644),
			"whole/rel-link":   symlink("a.txt"),
			"whole/abs-link":   symlink("/etc/hostname"),
			"globbed/linkfile": reg("real", 0o644),
			"globbed/a.txt":    reg("real", 0o644),
		},
		absent: []string{"viadir/linkdir", "viadir/realdir", "globbed/linkdir"},
	}, {
		name:       "absolute symlink target resolves inside the context",
		dockerfile: "FROM scratch\nCOPY abs /x\n",
		files:      files,
		want:       map[string]node{"x": reg("context passwd", 0o644)},
	}, {
		name:       "symlink climbing out stays inside the context",
		dockerfile: "FROM scratch\nCOPY out /x\n",
		files:      files,
		wantErr:    "not found",
	}, {
		name: "destination through a symlink of the image",
		dockerfile: "FROM scratch\nCOPY tree/ /\nCOPY f.txt /link/\nCOPY f.txt /link/sub/g\n" +
			"COPY f.txt /abslink/h\n",
		files: []ctxFile{
			{path: "tree/real", dir: true}, {path: "tree/link", link: "real"},
			{path: "tree/abslink", link: "/real"}, {path: "f.txt", content: "F"},
		},
		want: map[string]node{
			"link":       symlink("real"),
			"abslink":    symlink("/real"),
			"real/f.txt": reg("F", 0o644),
			"real/sub/g": reg("F", 0o644),
			"real/h":     reg("F", 0o644),
		},
	}, {
		name:       "file over a directory of the image",
		dockerfile: "FROM scratch\nCOPY tree/ /\nCOPY f /d/\n",
		files:      []ctxFile{{path: "tree/d/f", dir: true}, {path: "f", content: "x"}},
		wantErr:    "cannot replace to directory /d/f with file",
	}})
}

func TestCopyOwnersAndModes(t *testing.T) {
	files := []ctxFile{
		{path: "vm.raw", content: "raw"},
		{path: "tree/a.txt", content: "a", mode: 0o640},
		{path: "tree/sub", dir: true, mode: 0o750},
		{path: "tree/sub/b.sh", content: "b", mode: 0o700},
		{path: "tree/sub/l", link: "b.sh"},
	}
	own := func(n node, uid, gid int) node { n.UID, n.GID = uid, gid; return n }
	runCopyCases(t, []copyCase{{
		name: "numeric chown, lone uid, created parents",
		dockerfile: "FROM scratch\nCOPY --chown=211:212 vm.raw /images/x/vm.raw\n" +
			"COPY --chown=1234 tree/ /tree/\n",
		files: files,
		want: map[string]node{
			"images":          own(dir(0o755), 211, 212),
			"images/x":        own(dir(0o755), 211, 212),
			"images/x/vm.raw": own(reg("raw", 0o644), 211, 212),
			"tree":            own(dir(0o755), 1234, 1234),
			"tree/a.txt":      own(reg("a", 0o640), 1234, 1234),
			"tree/sub":        own(dir(0o750), 1234, 1234),
			"tree/sub/b.sh":   own(reg("b", 0o700), 1234, 1234),
			"tree/sub/l":      own(symlink("b.sh"), 1234, 1234),
		},
	}, {
		// BuildKit v0.34 (fsutil#228) makes the missing destination
		// directory with the octal mode too, as the parents of /n/d/w.
		name: "octal chmod applies to files, copied and created directories",
		dockerfile: "FROM scratch\nCOPY --chmod=0604 tree/ /t/\nCOPY --chmod=4755 vm.raw /v\n" +
			"COPY --chmod=0640 vm.raw /n/d/w\nCOPY --chmod=u+x vm.raw /s/d/w\n",
		files: files,
		want: map[string]node{
			"n":          dir(0o640),
			"n/d":        dir(0o640),
			"n/d/w":      reg("raw", 0o640),
			"s":          dir(0o755),
			"s/d":        dir(0o755),
			"s/d/w":      reg("raw", 0o744),
			"t":          dir(0o604),
			"t/a.txt":    reg("a", 0o604),
			"t/sub":      dir(0o604),
			"t/sub/b.sh": reg("b", 0o604),
			"t/sub/l":    symlink("b.sh"),
			"v":          reg("raw", 0o4755),
		},
	}, {
		name:       "symbolic chmod",
		dockerfile: "FROM scratch\nCOPY --chmod=u+x,g-r,o=u tree/ /t/\nCOPY --chmod=a+X tree/ /x/\n",
		files:      files,
		want: map[string]node{
			"t/a.txt":    reg("a", 0o707),
			"t/sub":      dir(0o717),
			"t/sub/b.sh": reg("b", 0o707),
			"x/a.txt":    reg("a", 0o640),
			"x/sub":      dir(0o751),
			"x/sub/b.sh": reg("b", 0o711),
		},
	}, {
		name:       "bad chmod",
		dockerfile: "FROM scratch\nCOPY --chmod=999 vm.raw /v\n",
		files:      files,
		wantErr:    "invalid chmod parameter: '999'",
	}, {
		name:       "chown by name on scratch has no passwd",
		dockerfile: "FROM scratch\nCOPY --chown=app vm.raw /v\n",
		files:      files,
		wantErr:    "app",
	}, {
		name:       "link refuses names",
		dockerfile: "FROM scratch\nCOPY --link --chown=app vm.raw /v\n",
		files:      files,
		wantErr:    "can't be resolved when used with --link",
	}, {
		name: "chown by name from the image's passwd",
		dockerfile: "FROM scratch\nCOPY etc/ /etc/\n" +
			"COPY --chown=app:staff vm.raw /v\nCOPY --chown=app vm.raw /w\n",
		files: append([]ctxFile{
			{path: "etc/passwd", content: "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"},
			{path: "etc/group", content: "root:x:0:\nstaff:x:50:\napp:x:1001:\n"},
		}, files...),
		want: map[string]node{
			"v": own(reg("raw", 0o644), 1000, 50),
			"w": own(reg("raw", 0o644), 1000, 1001),
		},
	}})
}

func TestCopyFlags(t *testing.T) {
	files := []ctxFile{
		{path: "src/a.go", content: "a"}, {path: "src/a.txt", content: "t"},
		{path: "src/tmp/x.go", content: "x"}, {path: "src/tmp/y.txt", content: "y"},
		{path: "app/cmd/main.go", content: "m"}, {path: "app/cmd/skip.txt", content: "s"},
		{path: "app/lib", dir: true, mode: 0o700}, {path: "app/lib/l.go", content: "l"},
		{path: "f.txt", content: "F"},
	}
	runCopyCases(t, []copyCase{{
		name:       "exclude",
		dockerfile: "FROM scratch\nCOPY --exclude=*.txt --exclude=tmp src /s/\n",
		files:      files,
		want:       map[string]node{"s/a.go": reg("a", 0o644)},
		absent:     []string{"s/a.txt", "s/tmp", "s/tmp/x.go"},
	}, {
		name:       "exclude with an exception",
		dockerfile: "FROM scratch\nCOPY --exclude=tmp --exclude=!tmp/x.go src /s/\n",
		files:      files,
		want:       map[string]node{"s/tmp/x.go": reg("x", 0o644), "s/tmp": dir(0o755)},
		absent:     []string{"s/tmp/y.txt"},
	}, {
		name: "parents",
		dockerfile: "# syntax=docker/dockerfile:1.7-labs\nFROM scratch\n" +
			"COPY --parents app/cmd/main.go app/*/l.go /p/\nCOPY --parents ./app/./cmd/*.go /q\n",
		files: files,
		want: map[string]node{
			"p/app/cmd/main.go": reg("m", 0o644),
			"p/app/lib":         dir(0o700),
			"p/app/lib/l.go":    reg("l", 0o644),
			"q/cmd/main.go":     reg("m", 0o644),
		},
		absent: []string{"p/app/cmd/skip.txt", "q/app", "p/f.txt"},
	}, {
		name:       "link does not look at the image",
		dockerfile: "FROM scratch\nCOPY f.txt /d/keep\nCOPY --link f.txt /d\n",
		files:      files,
		want:       map[string]node{"d": reg("F", 0o644)},
		absent:     []string{"d/keep", "d/f.txt"},
	}, {
		name: "heredocs",
		dockerfile: "FROM scratch\nARG WHO=world\nCOPY <<EOF /h/greeting\nhello $WHO\nEOF\n" +
			"COPY --chmod=755 --chown=5:6 <<-'EOT' <<two /bin/\n\tno $WHO\n\tEOT\n2\ntwo\n",
		files: files,
		want: map[string]node{
			"h/greeting": reg("hello world\n", 0o644),
			"bin/EOT":    {Type: tar.TypeReg, Content: "no $WHO\n", Mode: 0o755, UID: 5, GID: 6},
			"bin/two":    {Type: tar.TypeReg, Content: "2\n", Mode: 0o755, UID: 5, GID: 6},
		},
	}, {
		name: "from another stage keeps owners",
		dockerfile: "FROM scratch AS one\nCOPY --chown=7:8 src/ /out/\nCOPY --chown=9 f.txt /f\n" +
			"FROM scratch\nCOPY --from=one /out/ /in/\nCOPY --from=0 /out/a.go /f* /single/\n" +
			"COPY --from=one --chown=1:2 /out/../../f /g\n",
		files: files,
		want: map[string]node{
			"in/a.go":     {Type: tar.TypeReg, Content: "a", Mode: 0o644, UID: 7, GID: 8},
			"in/tmp":      {Type: tar.TypeDir, Mode: 0o755, UID: 7, GID: 8},
			"single/a.go": {Type: tar.TypeReg, Content: "a", Mode: 0o644, UID: 7, GID: 8},
			"single/f":    {Type: tar.TypeReg, Content: "F", Mode: 0o644, UID: 9, GID: 9},
			"g":           {Type: tar.TypeReg, Content: "F", Mode: 0o644, UID: 1, GID: 2},
		},
	}, {
		name:       "git sources are refused",
		dockerfile: "FROM scratch\nADD https://example.com/repo.git /src\n",
		wantErr:    "not supported yet",
	}, {
		name:       "keep-git-dir is refused",
		dockerfile: "FROM scratch\nADD --keep-git-dir=true f.txt /src\n",
		files:      files,
		wantErr:    "--keep-git-dir is not supported yet",
	}, {
		name:       "COPY takes no URL",
		dockerfile: "FROM scratch\nCOPY http://127.0.0.1:1/x /x\n",
		wantErr:    "source can't be a URL for COPY",
	}})
}
