package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// config holds the settings of the config file and the environment; flags
// override them, and they override the built-in defaults.
type config struct {
	// Root is the store directory ("" means defaultRoot()).
	Root string
	// Mirrors are registries tried first for Docker Hub images.
	Mirrors []string
	// Insecure are registries reached over plain HTTP.
	Insecure []string
	// Progress is the default --progress mode ("" means auto).
	Progress string
}

// The environment variables that override the config file.
const (
	envRoot     = "IBUILD_ROOT"
	envMirrors  = "IBUILD_REGISTRY_MIRRORS"
	envInsecure = "IBUILD_INSECURE_REGISTRIES"
	envProgress = "IBUILD_PROGRESS"
)

// configPath is where the config file is: $XDG_CONFIG_HOME/ibuild/config.toml,
// else ~/.config/ibuild/config.toml; "" when neither can be known.
func configPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "ibuild", "config.toml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "ibuild", "config.toml")
	}
	return ""
}

// loadConfig reads the config file, if there is one, and applies the
// environment variables over it. A bad file is a usage error that names
// the file and line.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	if p := configPath(getenv); p != "" {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return c, fmt.Errorf("reading the config file: %w", err)
		default:
			if c, err = parseConfig(p, string(b), getenv("HOME")); err != nil {
				return c, usageError{err}
			}
		}
	}
	if v := getenv(envRoot); v != "" {
		c.Root = v
	}
	if v := getenv(envMirrors); v != "" {
		c.Mirrors = splitList(v)
	}
	if v := getenv(envInsecure); v != "" {
		c.Insecure = splitList(v)
	}
	if v := getenv(envProgress); v != "" {
		c.Progress = v
	}
	return c, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseConfig reads the keys ibuild knows from TOML text: strings and
// arrays of strings at the top level, comments, and arrays over several
// lines. Anything else is an error naming the line.
func parseConfig(path, text, home string) (config, error) {
	var c config
	kvs, err := parseTOML(text)
	if err != nil {
		return c, fmt.Errorf("%s:%w", path, err)
	}
	for _, kv := range kvs {
		var err error
		switch kv.key {
		case "root":
			c.Root, err = kv.str()
			if strings.HasPrefix(c.Root, "~/") && home != "" {
				c.Root = filepath.Join(home, c.Root[2:])
			}
		case "progress":
			c.Progress, err = kv.str()
		case "registry-mirrors":
			c.Mirrors, err = kv.list()
		case "insecure-registries":
			c.Insecure, err = kv.list()
		default:
			err = fmt.Errorf("unknown key %q (known: root, progress, registry-mirrors, "+
				"insecure-registries)", kv.key)
		}
		if err != nil {
			return c, fmt.Errorf("%s:%d: %w", path, kv.line, err)
		}
	}
	return c, nil
}
