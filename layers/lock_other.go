//go:build !linux

package layers

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func (s *Store) lock(ctx context.Context, h v1.Hash) (func(), error) {
	return nil, errors.New("locking " + h.String() + ": only supported on linux")
}
