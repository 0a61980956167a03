package builder

import (
	"slices"
	"strings"
)

// envList is an ordered list of KEY=VALUE pairs where a later Set replaces
// an earlier value in place, as Docker keeps the image's Env. It serves as
// the variable source for Dockerfile expansion.
type envList []string

// Get returns the value of key.
func (e envList) Get(key string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(e[i], "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// Keys returns the names in order.
func (e envList) Keys() []string {
	keys := make([]string, 0, len(e))
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

// set returns the list with key set to value.
func (e envList) set(key, value string) envList {
	for i, kv := range e {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out := slices.Clone(e)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(slices.Clone(e), key+"="+value)
}

// defaultPath is the PATH Docker gives images that set none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
