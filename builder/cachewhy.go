package builder

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// stepRecord is what the last build of a step used: its key and inputs.
// A later miss of the same step is explained by the first input that
// differs.
type stepRecord struct {
	Key    string       `json:"key"`
	Step   string       `json:"step"`
	Inputs []cacheInput `json:"inputs"`
}

// missReason says why a step was not looked up or why a found entry could
// not be used.
type missReason struct {
	noLookup string // --no-cache, --no-cache-filter
	broken   string // the entry was found but is unusable
}

func (c *buildCache) recordPath(id string) string {
	return filepath.Join(c.dir, "steps", id)
}

func (c *buildCache) record(id string) *stepRecord {
	b, err := os.ReadFile(c.recordPath(id))
	if err != nil {
		return nil
	}
	var r stepRecord
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

func (c *buildCache) putRecord(id string, r *stepRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.writeFile(c.recordPath(id), b)
}

// identity names a step across builds: the context, the Dockerfile, the
// stage and the step's position in it. Its text is left out so that an
// edited instruction is reported as such.
func (s *state) identity() string {
	ctxDir, err := filepath.Abs(s.b.opts.ContextDir)
	if err != nil {
		ctxDir = s.b.opts.ContextDir
	}
	df := s.b.opts.DockerfilePath
	if df == "" {
		df = s.b.opts.DockerfileName
	}
	stage := s.stage.name
	if stage == "" {
		stage = "#" + strconv.Itoa(s.stage.index)
	}
	return hashStrings("step", ctxDir, df, stage, platformString(s.stage.platform),
		strconv.Itoa(s.pos))
}

// explainMiss reports why a step with key and inputs in is built: always
// when an earlier build of the step exists (something changed, or its
// result is gone), with --debug-cache also when there is none or the cache
// was not consulted.
func (s *state) explainMiss(key string, in []cacheInput, why missReason) {
	debug := s.b.opts.DebugCache
	switch {
	case why.broken != "":
		s.step.status("cache miss: " + why.broken)
		return
	case why.noLookup != "":
		if debug {
			s.step.status("cache miss: " + why.noLookup)
		}
		return
	}
	rec := s.b.cache.record(s.identity())
	switch {
	case rec == nil:
		if debug {
			s.step.status("cache miss: no earlier build of this step")
		}
	case rec.Key == key:
		s.step.status("cache miss: the result of the earlier build is no longer in the cache")
	default:
		s.step.status("cache miss: " + diffInputs(rec.Inputs, in, s.parentRebuilt))
	}
}

// diffInputs names the first input that differs between an earlier build
// (old) and this one, by kind in the order of inputKinds. parentRebuilt
// says the previous step of this build ran.
func diffInputs(old, cur []cacheInput, parentRebuilt bool) string {
	for _, kind := range inputKinds {
		o, c := inputsOf(old, kind), inputsOf(cur, kind)
		if kind == inParent || kind == inInstruction {
			if msg := diffSingle(kind, o, c, parentRebuilt); msg != "" {
				return msg
			}
			continue
		}
		if msg := diffNamed(kind, o, c); msg != "" {
			return msg
		}
	}
	return "the inputs look the same as in the earlier build"
}

func inputsOf(in []cacheInput, kind string) []cacheInput {
	var out []cacheInput
	for _, i := range in {
		if i.Kind == kind {
			out = append(out, i)
		}
	}
	return out
}

func diffSingle(kind string, o, c []cacheInput, parentRebuilt bool) string {
	var ov, cv, oname, cname string
	if len(o) > 0 {
		ov, oname = o[0].Value, o[0].Name
	}
	if len(c) > 0 {
		cv, cname = c[0].Value, c[0].Name
	}
	if ov == cv {
		return ""
	}
	if kind == inInstruction {
		return fmt.Sprintf("instruction changed: was %s, now %s", clip(ov, 60), clip(cv, 60))
	}
	switch {
	case strings.HasPrefix(cname, "FROM ") && oname != cname:
		return fmt.Sprintf("base image changed: was %s, now %s", oname, cname)
	case strings.HasPrefix(cname, "FROM "):
		return "base image changed: " + cname
	case parentRebuilt:
		return "the previous step was rebuilt: " + cname
	}
	return "the previous step changed: " + cname
}

// diffNamed compares inputs that have names: the first one of cur that is
// new or different, else the first one of old that is gone.
func diffNamed(kind string, o, c []cacheInput) string {
	olds := make(map[string]string, len(o))
	for _, i := range o {
		olds[i.Name] = i.Value
	}
	seen := make(map[string]bool, len(c))
	for _, i := range c {
		seen[i.Name] = true
		ov, ok := olds[i.Name]
		switch {
		case !ok:
			return describeInput(kind, i.Name) + " added" + shownValue(kind, nil, i.Value)
		case ov != i.Value:
			return describeInput(kind, i.Name) + " changed" + shownValue(kind, &ov, i.Value)
		}
	}
	for _, i := range o {
		if !seen[i.Name] {
			return describeInput(kind, i.Name) + " removed"
		}
	}
	return ""
}

func describeInput(kind, name string) string {
	switch kind {
	case inArg:
		return "build arg " + name
	case inEnv:
		return "environment variable " + name
	case inFrom:
		return "--from " + name
	case inMount:
		return "mount " + name
	case inFile:
		return "file " + name
	}
	return name
}

// shownValue shows the old (nil: none) and new value of the inputs whose
// values mean something to a reader.
func shownValue(kind string, old *string, cur string) string {
	switch kind {
	case inArg, inEnv, inSetting:
	default:
		return ""
	}
	if old == nil {
		return fmt.Sprintf(" (%q)", clip(cur, 40))
	}
	return fmt.Sprintf(" (was %q, now %q)", clip(*old, 40), clip(cur, 40))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
