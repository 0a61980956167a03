package main

import (
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// readInDir reads the file at p, resolving a symlink there as if p's
// directory were the root, as BuildKit reads a Dockerfile: a Dockerfile in
// an untrusted checkout that is a symlink to /etc/shadow must not be read,
// or its lines would end up in error messages and CI logs.
func readInDir(p string) ([]byte, error) {
	dir, err := filepath.Abs(filepath.Dir(p))
	if err != nil {
		return nil, err
	}
	safe, err := securejoin.SecureJoin(dir, filepath.Base(p))
	if err != nil {
		return nil, err
	}
	return os.ReadFile(safe)
}
