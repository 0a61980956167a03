//go:build !linux

package layers

import "archive/tar"

const openNoFollow = 0

type fileInfo struct {
	id               inode
	links            uint64
	whiteout, opaque bool
}

func headerOf(p, rel string) (*tar.Header, fileInfo, error) {
	return nil, fileInfo{}, errNotLinux
}

func sameAsLower(up, lower, rel string) (bool, error) { return false, nil }
