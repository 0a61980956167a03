package builder

import (
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// proxyArgs are the build args Docker predefines: usable without an ARG
// line and left out of the image history.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// platformArgs returns the automatic platform ARGs for a build on host for
// target.
func platformArgs(host, target v1.Platform) envList {
	var e envList
	add := func(prefix string, p v1.Platform) {
		e = e.set(prefix+"PLATFORM", platformString(p))
		e = e.set(prefix+"OS", p.OS)
		e = e.set(prefix+"ARCH", p.Architecture)
		e = e.set(prefix+"VARIANT", p.Variant)
	}
	add("BUILD", host)
	add("TARGET", target)
	return e
}

// argTracker records which --build-arg values some ARG consumed, to warn
// about the rest.
type argTracker struct {
	mu   sync.Mutex
	used map[string]bool
}

func (t *argTracker) use(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.used == nil {
		t.used = map[string]bool{}
	}
	t.used[k] = true
}

func (t *argTracker) unused(given map[string]string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range given {
		if !t.used[k] && !proxyArgs[k] {
			out = append(out, k)
		}
	}
	return out
}

// resolveMetaArgs computes the ARGs before the first FROM: defaults expanded
// in order, overridden by --build-arg values.
func (b *build) resolveMetaArgs() (envList, error) {
	global := platformArgs(hostPlatform(), *b.opts.Platform)
	for i := range b.df.metaArgs {
		cmd := &b.df.metaArgs[i]
		for _, kv := range cmd.Args {
			v, ok := b.opts.BuildArgs[kv.Key]
			if ok {
				b.args.use(kv.Key)
			} else if kv.Value != nil {
				res, _, err := b.lex.ProcessWord(*kv.Value, global)
				if err != nil {
					return nil, cmdError(b.df.name, cmd, fmt.Errorf("expanding ARG %s: %w", kv.Key, err))
				}
				v, ok = res, true
			} else if gv, found := global.Get(kv.Key); found {
				v, ok = gv, true
			}
			if ok {
				global = global.set(kv.Key, v)
			} else {
				b.declaredOnly[kv.Key] = true
			}
		}
	}
	return global, nil
}

// dispatchArg declares ARGs in a stage: a --build-arg value wins, then the
// ARG's default, then the global value of the same name.
func (s *state) dispatchArg(c *instructions.ArgCommand) error {
	parts := make([]string, 0, len(c.Args))
	for _, kv := range c.Args {
		key := kv.Key
		val, has := s.b.opts.BuildArgs[key]
		if has {
			s.b.args.use(key)
		} else if kv.Value != nil {
			v, _, err := s.b.lex.ProcessWord(*kv.Value, s.env)
			if err != nil {
				return fmt.Errorf("expanding ARG %s: %w", key, err)
			}
			val, has = v, true
		} else if gv, ok := s.b.global.Get(key); ok {
			val, has = gv, true
		}
		s.argNames = append(s.argNames, key)
		if has {
			s.env = s.env.set(key, val)
			s.argVals = s.argVals.set(key, val)
			parts = append(parts, key+"="+val)
		} else {
			parts = append(parts, key)
		}
	}
	s.history("ARG "+strings.Join(parts, " "), false)
	return nil
}

var _ shell.EnvGetter = envList(nil)
