package builder

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runFiles builds dockerfile on busybox and returns the files under /out.
func runFiles(t *testing.T, dockerfile string, more func(*Options)) map[string]string {
	t.Helper()
	img, err := buildImage(t, t.TempDir(), dockerfile, withBusybox(t, more))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	out := map[string]string{}
	for p, n := range flatten(t, img) {
		if strings.HasPrefix(p, "out/") {
			out[strings.TrimPrefix(p, "out/")] = n.Content
		}
	}
	return out
}

// TestArgScoping checks Docker's ARG rules: global ARGs only in FROM unless
// redeclared, defaults, --build-arg, ENV over ARG, scope ends with the stage.
func TestArgScoping(t *testing.T) {
	tests := []struct {
		name string
		df   string
		args map[string]string
		want map[string]string
	}{
		{"global arg needs redeclaring",
			"ARG G=global\nFROM busybox\nRUN mkdir /out && echo \"[$G]\" > /out/a\n" +
				"ARG G\nRUN echo \"[$G]\" > /out/b\n",
			nil, map[string]string{"a": "[]\n", "b": "[global]\n"}},
		{"global arg in FROM", "ARG BASE=busybox\nFROM $BASE\nRUN mkdir /out && echo ok > /out/a\n",
			nil, map[string]string{"a": "ok\n"}},
		{"build arg overrides default",
			"FROM busybox\nARG V=default\nRUN mkdir /out && echo $V > /out/a\n",
			map[string]string{"V": "given"}, map[string]string{"a": "given\n"}},
		{"build arg overrides global default",
			"ARG V=default\nFROM busybox\nARG V\nRUN mkdir /out && echo $V > /out/a\n",
			map[string]string{"V": "given"}, map[string]string{"a": "given\n"}},
		{"env wins over arg", "FROM busybox\nARG X=arg\nENV X=env\nRUN mkdir /out && echo $X > /out/a\n",
			map[string]string{"X": "flag"}, map[string]string{"a": "env\n"}},
		{"arg without value is unset",
			"FROM busybox\nARG U\nRUN mkdir /out && echo \"[${U-unset}]\" > /out/a\n",
			nil, map[string]string{"a": "[unset]\n"}},
		{"arg scope ends with the stage",
			"FROM busybox AS one\nARG S=one\nFROM busybox\nRUN mkdir /out && echo \"[$S]\" > /out/a\n",
			nil, map[string]string{"a": "[]\n"}},
		{"arg default expands earlier arg",
			"FROM busybox\nARG A=x\nARG B=${A}y\nRUN mkdir /out && echo $B > /out/a\n",
			nil, map[string]string{"a": "xy\n"}},
		{"proxy args reach RUN without ARG",
			"FROM busybox\nRUN mkdir /out && echo $HTTP_PROXY > /out/a\n",
			map[string]string{"HTTP_PROXY": "http://127.0.0.1:3128"},
			map[string]string{"a": "http://127.0.0.1:3128\n"}},
		{"platform args", "FROM busybox\nARG TARGETOS\nARG TARGETARCH\nARG BUILDPLATFORM\n" +
			"RUN mkdir /out && echo $TARGETOS/$TARGETARCH > /out/a && echo $BUILDPLATFORM > /out/b\n",
			nil, map[string]string{"a": "linux/" + hostPlatform().Architecture + "\n",
				"b": platformString(hostPlatform()) + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runFiles(t, tt.df, func(o *Options) { o.BuildArgs = tt.args })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExpansion checks the variable forms Docker expands in instructions.
func TestExpansion(t *testing.T) {
	df := "FROM busybox\nENV SET=v EMPTY=\n" +
		"ENV A=${SET:-x} B=${UNSET:-x} C=${SET:+y} D=${UNSET:+y} E=${EMPTY-z} F=${EMPTY:-z}\n" +
		"ENV G=${SET+w} H=\\$SET I=$SET$SET\n" +
		"WORKDIR /out\nRUN for v in A B C D E F G H I; do eval echo \\\"\\$$v\\\" > $v; done\n"
	got := runFiles(t, df, nil)
	want := map[string]string{"A": "v\n", "B": "x\n", "C": "y\n", "D": "\n", "E": "\n",
		"F": "z\n", "G": "w\n", "H": "$SET\n", "I": "vv\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestEscapeDirective checks `# escape=` for the line continuation and
// for escaping `$`.
func TestEscapeDirective(t *testing.T) {
	df := "# escape=`\nFROM busybox\nENV X=a Y=`$X-$X\nRUN mkdir /out && `\n    echo \"$Y\" > /out/a\n"
	got := runFiles(t, df, nil)
	if diff := cmp.Diff(map[string]string{"a": "$X-\n"}, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestHeredocs checks RUN heredocs as BuildKit runs them.
func TestHeredocs(t *testing.T) {
	df := "FROM busybox\nENV W=world\nRUN mkdir /out\n" +
		"RUN <<EOF\necho hello $W > /out/a\necho second >> /out/a\nEOF\n" +
		"RUN <<-EOF\n\techo tabs > /out/b\n\tEOF\n" +
		"RUN cat <<'EOF' > /out/c\nno $W expansion\nEOF\n" +
		"RUN <<EOF\n#!/bin/sh\necho script $0 > /out/d\nEOF\n" +
		"RUN cat <<A > /out/e && cat <<B >> /out/e\none\nA\ntwo\nB\n"
	got := runFiles(t, df, nil)
	want := map[string]string{"a": "hello world\nsecond\n", "b": "tabs\n",
		"c": "no $W expansion\n", "d": "script /dev/pipes/EOF\n", "e": "one\ntwo\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestStages checks stage references by name (any case) and index, FROM of
// an earlier stage, and that --target builds only what it needs: a stage
// it does not need would fail if it ran.
func TestStages(t *testing.T) {
	df := "FROM busybox AS Base\nRUN mkdir /out && echo base > /out/base\n" +
		"FROM nonexistent.invalid/never:pulled AS unused\nRUN false\n" +
		"FROM base AS mid\nRUN echo mid > /out/mid\n" +
		"FROM busybox AS final\nCOPY --from=0 /out/base /out/from-index\n" +
		"COPY --from=MID /out/mid /out/from-name\n" +
		"FROM busybox AS broken\nRUN exit 3\n"
	got := runFiles(t, df, func(o *Options) { o.Target = "FINAL" })
	want := map[string]string{"from-index": "base\n", "from-name": "mid\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestOnbuild checks that ONBUILD triggers run in each direct child, in
// order, and not again in a grandchild (shared case 024).
func TestOnbuild(t *testing.T) {
	df := "FROM busybox AS base\nRUN mkdir -p /out\nONBUILD RUN echo one >> /out/log\n" +
		"ONBUILD RUN echo two >> /out/log\n" +
		"FROM base AS child\nRUN echo child >> /out/log\n" +
		"FROM child\nRUN echo grandchild >> /out/log\n"
	got := runFiles(t, df, nil)
	want := map[string]string{"log": "one\ntwo\nchild\ngrandchild\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestIndependentStagesRunConcurrently checks that two stages that do not
// depend on each other run at the same time: each one's RUN starts before
// the other's ends.
func TestIndependentStagesRunConcurrently(t *testing.T) {
	df := "FROM busybox AS a\nRUN sleep 1 && mkdir /out && echo a > /out/a\n" +
		"FROM busybox AS b\nRUN sleep 1 && mkdir /out && echo b > /out/b\n" +
		"FROM busybox\nCOPY --from=a /out/a /out/a\nCOPY --from=b /out/b /out/b\n"
	type span struct{ start, end time.Time }
	spans := map[string]*span{}
	names := map[int]string{}
	got := runFiles(t, df, func(o *Options) {
		o.Progress = func(e Event) {
			switch e.Kind {
			case StepStarted:
				if strings.Contains(e.Name, "RUN sleep") {
					names[e.Step] = e.Name
					spans[e.Name] = &span{start: e.Time}
				}
			case StepDone:
				if n, ok := names[e.Step]; ok {
					spans[n].end = e.Time
				}
			}
		}
	})
	if diff := cmp.Diff(map[string]string{"a": "a\n", "b": "b\n"}, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if len(spans) != 2 {
		t.Fatalf("saw %d RUN steps, want 2", len(spans))
	}
	var s []*span
	for _, v := range spans {
		s = append(s, v)
	}
	if !s[0].start.Before(s[1].end) || !s[1].start.Before(s[0].end) {
		t.Errorf("stages a and b did not overlap: %+v %+v", *s[0], *s[1])
	}
}

// TestUnusedBuildArgWarns checks the warning for a --build-arg no ARG uses.
func TestUnusedBuildArgWarns(t *testing.T) {
	dir := t.TempDir()
	res, err := Build(t.Context(), Options{ContextDir: dir, Root: t.TempDir(),
		Dockerfile: []byte("FROM scratch\nARG USED\n"),
		BuildArgs:  map[string]string{"USED": "1", "UNUSED": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`build argument "UNUSED" was given but no ARG uses it`}
	if diff := cmp.Diff(want, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestRunUserGroups checks the ids a RUN step gets from USER, as BuildKit
// gives them: the primary group first among the supplementary groups, then
// the groups that list the user.
func TestRunUserGroups(t *testing.T) {
	df := "FROM busybox\nRUN mkdir -m 777 /out && echo 'svc:x:1001:' >> /etc/group && " +
		"echo 'svc:x:1001:1001::/srv:/bin/sh' >> /etc/passwd && echo 'extra:x:2000:svc' >> /etc/group\n" +
		"USER svc\nRUN id > /out/svc\nUSER app\nRUN id > /out/app\nUSER 1234:5678\nRUN id > /out/num\n"
	got := runFiles(t, df, nil)
	want := map[string]string{
		"svc": "uid=1001(svc) gid=1001(svc) groups=1001(svc),2000(extra)\n",
		"app": "uid=1000(app) gid=1000(app) groups=1000(app)\n",
		"num": "uid=1234 gid=5678 groups=5678\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
