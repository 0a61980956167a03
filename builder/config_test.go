package builder

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// configOf builds dockerfile FROM scratch with an empty context and returns
// the image config.
func configOf(t *testing.T, dockerfile string, tweak func(*Options)) *v1.ConfigFile {
	t.Helper()
	img, err := buildImage(t, t.TempDir(), dockerfile, tweak)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

const pathEnv = "PATH=" + defaultPath

// TestConfigInstructions checks the effect of each config instruction on
// the image config against what Docker's reference says it must be.
func TestConfigInstructions(t *testing.T) {
	tests := []struct {
		name string
		df   string
		want v1.Config
	}{
		{"scratch defaults", "FROM scratch\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/"}},
		{"env forms and replacement", "FROM scratch\nENV A=1 B=\"two words\"\nENV C 3 4\nENV A=x\n",
			v1.Config{Env: []string{pathEnv, "A=x", "B=two words", "C=3 4"}, WorkingDir: "/"}},
		{"env expands earlier env", "FROM scratch\nENV A=1\nENV B=${A}2 C=$A\n",
			v1.Config{Env: []string{pathEnv, "A=1", "B=12", "C=1"}, WorkingDir: "/"}},
		{"path can be replaced", "FROM scratch\nENV PATH=/opt/bin:$PATH\n",
			v1.Config{Env: []string{"PATH=/opt/bin:" + defaultPath}, WorkingDir: "/"}},
		{"labels", "FROM scratch\nLABEL a=1 \"b c\"=\"d e\"\nLABEL a=2\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/",
				Labels: map[string]string{"a": "2", "b c": "d e"}}},
		{"expose forms", "FROM scratch\nEXPOSE 80 53/udp 8000-8002/tcp\nEXPOSE 9000/TCP\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ExposedPorts: map[string]struct{}{
				"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {},
				"9000/tcp": {}}}},
		{"cmd shell form", "FROM scratch\nCMD echo hi there\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ArgsEscaped: true,
				Cmd: []string{"/bin/sh", "-c", "echo hi there"}}},
		{"cmd exec form", "FROM scratch\nCMD [\"/bin/echo\", \"hi\"]\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ArgsEscaped: true,
				Cmd: []string{"/bin/echo", "hi"}}},
		{"entrypoint keeps cmd of the same stage", "FROM scratch\nCMD [\"a\"]\nENTRYPOINT [\"/e\"]\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ArgsEscaped: true,
				Cmd: []string{"a"}, Entrypoint: []string{"/e"}}},
		{"entrypoint clears inherited cmd",
			"FROM scratch AS base\nCMD [\"a\"]\nFROM base\nENTRYPOINT /e x\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ArgsEscaped: true,
				Entrypoint: []string{"/bin/sh", "-c", "/e x"}}},
		{"shell changes later shell forms", "FROM scratch\nSHELL [\"/bin/bash\", \"-ec\"]\nCMD make\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", ArgsEscaped: true,
				Shell: []string{"/bin/bash", "-ec"}, Cmd: []string{"/bin/bash", "-ec", "make"}}},
		{"user volume stopsignal", "FROM scratch\nUSER 1000:1000\nVOLUME /data /logs\n" +
			"VOLUME [\"/x\", \"/y\"]\nSTOPSIGNAL SIGQUIT\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", User: "1000:1000",
				StopSignal: "SIGQUIT", Volumes: map[string]struct{}{
					"/data": {}, "/logs": {}, "/x": {}, "/y": {}}}},
		{"workdir relative to the previous one", "FROM scratch\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/a/c"}},
		{"workdir expands env", "FROM scratch\nENV D=/srv\nWORKDIR $D/app\n",
			v1.Config{Env: []string{pathEnv, "D=/srv"}, WorkingDir: "/srv/app"}},
		{"healthcheck with options",
			"FROM scratch\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1s " +
				"--retries=4 CMD curl -f http://x/\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/", Healthcheck: &v1.HealthConfig{
				Test:     []string{"CMD-SHELL", "curl -f http://x/"},
				Interval: 5 * time.Second, Timeout: 3 * time.Second,
				StartPeriod: time.Second, Retries: 4}}},
		{"healthcheck none", "FROM scratch\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/",
				Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}}},
		{"onbuild recorded, not run", "FROM scratch\nONBUILD RUN echo hi\nONBUILD COPY a b\n",
			v1.Config{Env: []string{pathEnv}, WorkingDir: "/",
				OnBuild: []string{"RUN echo hi", "COPY a b"}}},
		{"arg is not persisted", "FROM scratch\nARG V=1\nENV W=$V\n",
			v1.Config{Env: []string{pathEnv, "W=1"}, WorkingDir: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := configOf(t, tt.df, nil)
			if diff := cmp.Diff(tt.want, cf.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigTopLevel checks author, platform and the --label flag.
func TestConfigTopLevel(t *testing.T) {
	cf := configOf(t, "FROM scratch\nMAINTAINER Kimbro Staken\nLABEL a=1\n", func(o *Options) {
		o.Labels = map[string]string{"a": "from-flag", "b": "2"}
		o.Platform = &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	})
	if cf.Author != "Kimbro Staken" {
		t.Errorf("author %q", cf.Author)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("platform %s/%s/%s", cf.OS, cf.Architecture, cf.Variant)
	}
	if diff := cmp.Diff(map[string]string{"a": "from-flag", "b": "2"}, cf.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// TestConfigHistory checks the history Docker records: one entry per
// instruction, empty_layer for config-only ones, and the text Docker writes.
func TestConfigHistory(t *testing.T) {
	cf := configOf(t, "FROM scratch\nARG V=1\nENV A=$V\nLABEL l=x\nEXPOSE 80\n"+
		"CMD [\"a\"]\nENTRYPOINT e\nUSER u\nVOLUME /v\nSTOPSIGNAL 9\nSHELL [\"/bin/sh\",\"-c\"]\n"+
		"WORKDIR /\nMAINTAINER m\n", nil)
	type h struct {
		By    string
		Empty bool
	}
	var got []h
	for _, e := range cf.History {
		got = append(got, h{e.CreatedBy, e.EmptyLayer})
	}
	want := []h{{"ARG V=1", true}, {"ENV A=1", true}, {"LABEL l=x", true},
		{"EXPOSE [80/tcp]", true}, {`CMD ["a"]`, true},
		{`ENTRYPOINT ["/bin/sh" "-c" "e"]`, true}, {"USER u", true}, {"VOLUME [/v]", true},
		{"STOPSIGNAL 9", true}, {"SHELL [/bin/sh -c]", true}, {"WORKDIR /", true},
		{"MAINTAINER m", true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestConfigErrors checks that bad instructions fail with the line named.
func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"bad signal", "FROM scratch\nSTOPSIGNAL NOPE\n",
			"Dockerfile:2: STOPSIGNAL NOPE: invalid signal: NOPE"},
		{"bad port", "FROM scratch\n\nEXPOSE 80/xyz\n",
			`Dockerfile:3: EXPOSE 80/xyz: invalid port "80/xyz": unknown protocol "xyz"`},
		{"unknown instruction", "FROM scratch\nFROBNICATE x\n", "Dockerfile:2"},
		{"no from", "ENV A=1\n", "Dockerfile:1"},
		{"missing target", "FROM scratch AS a\n", `target stage "nope" not found`},
		{"nul byte", "FROM scratch\nENV A=\x00\n", "Dockerfile:2"},
		{"unterminated heredoc", "FROM scratch\nRUN <<EOF\nx\n", "Dockerfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildImage(t, t.TempDir(), tt.df, func(o *Options) {
				if tt.name == "missing target" {
					o.Target = "nope"
				}
			})
			if err == nil {
				t.Fatal("build succeeded")
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("error %q does not contain %q", got, tt.want)
			}
		})
	}
}

// TestHealthcheckStartInterval checks HEALTHCHECK --start-interval, which
// the config must carry as Docker's image spec has it, also when a later
// stage inherits it.
func TestHealthcheckStartInterval(t *testing.T) {
	img, err := buildImage(t, t.TempDir(), "FROM scratch AS a\n"+
		"HEALTHCHECK --interval=5s --start-period=10s --start-interval=2s CMD true\n"+
		"FROM a\nENV X=1\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawConfigFile()
	var c struct {
		Config struct{ Healthcheck map[string]any }
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Config.Healthcheck["StartInterval"]; got != float64(2*time.Second) {
		t.Errorf("StartInterval = %v in %s", got, raw)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Healthcheck.Interval != 5*time.Second {
		t.Errorf("Interval = %v", cf.Config.Healthcheck.Interval)
	}
}

// TestCopyFromTypoHint checks that a COPY --from that names no stage and no
// pullable image says which stages there are.
func TestCopyFromTypoHint(t *testing.T) {
	reg := busyboxMirror(t)
	_, err := buildImage(t, t.TempDir(), "FROM busybox AS builder\nRUN echo x > /x\n"+
		"FROM scratch\nCOPY --from="+reg+"/bulder /x /x\n", withBusybox(t, nil))
	hint := "is not a stage of this Dockerfile either; stages: builder"
	if err == nil || !strings.Contains(err.Error(), hint) {
		t.Errorf("error %v lacks the stage hint", err)
	}
}
