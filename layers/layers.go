// Package layers turns file trees into OCI layer blobs and back: one-pass tar
// writing with hashing and compression, safe extraction into overlay lower
// directories, overlay upper directories as layers (whiteouts included), and
// the content store that keeps blobs and unpacked layers.
package layers

import (
	"archive/tar"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Store is the content store below one root directory. Its blob folder is
// laid out as an OCI image layout's, so the image store in package registry
// can share it:
//
//	ROOT/blobs/sha256/<hex>   blobs (layers, configs, manifests)
//	ROOT/unpacked/<hex>/      a layer unpacked in overlay lower form, by diff ID
//	ROOT/tmp/                 work files, on the same file system for renames
//	ROOT/locks/               lock files
type Store struct {
	// Root is the directory that holds everything the store owns.
	Root string

	// UnpackOptions are the extraction options Unpack uses. Warnings (device
	// nodes or xattrs that could not be created) go to UnpackOptions.Warn.
	UnpackOptions ExtractOptions
}

// Compression names a layer compression.
type Compression string

// The compressions WriteOptions accepts.
const (
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "uncompressed"
	// Estargz is gzip laid out for lazy pulling (eStargz).
	Estargz Compression = "estargz"
)

// WriteOptions says how a new layer blob is written. The zero value writes
// gzip at the default level and keeps timestamps as they are.
type WriteOptions struct {
	Compression Compression
	// Level is the compression level; 0 means the library default.
	Level int
	// Epoch, when set, clamps every mtime in the layer to at most this time.
	Epoch *time.Time
}

// Desc describes a layer blob in the store.
type Desc struct {
	Digest    v1.Hash // sha256 of the compressed blob
	DiffID    v1.Hash // sha256 of the uncompressed tar
	Size      int64   // size of the compressed blob
	MediaType types.MediaType
	// TOCDigest and UncompressedSize are set for eStargz layers, whose
	// manifest descriptors carry them as annotations (see Annotations).
	TOCDigest        string `json:",omitempty"`
	UncompressedSize int64  `json:",omitempty"`
}

// Entry is one tar entry for WriteEntries. Header.Name is relative to the
// image root, without a leading slash. A regular file's content comes from
// Source (a host path) or Open and must be exactly Header.Size bytes long.
type Entry struct {
	Header tar.Header
	Source string
	Open   func() (io.ReadCloser, error)
}

// ExtractOptions tunes Extract. The zero value extracts everything it is
// permitted to and fails on anything it is not, except device nodes and
// xattrs, which are skipped with a warning when the kernel refuses them.
type ExtractOptions struct {
	// Warn, when set, receives each problem that did not stop the
	// extraction: a device node that could not be created (as in a user
	// namespace), an xattr the kernel did not permit. Each error names the
	// entry. Without Warn such problems are dropped silently.
	Warn func(error)

	// LossyOwners, when set, leaves files owned by the extracting user when
	// their owner cannot be set (an id the user namespace does not map),
	// reporting each such entry through Warn, instead of failing.
	LossyOwners bool
}

// DiffOptions tunes DiffUpper.
type DiffOptions struct {
	// Exclude lists paths relative to the root ("etc/hosts") to leave out
	// of the layer, with everything below them.
	Exclude []string
	// Epoch, when set, clamps every mtime to at most this time.
	Epoch *time.Time
	// Lower, when set, is a read-only view of the layers below upper. An
	// entry that overlay only copied up, the same as below it (type, mode,
	// owner, device, capabilities, and for non-directories size, mtime and,
	// when mtimes are whole seconds, content), is left out, as BuildKit's
	// differ does; a directory left out is still written as the parent of
	// a changed entry below it.
	Lower string
}

// Owner is a numeric user and group.
type Owner struct {
	UID, GID int
}

// ArchiveOptions tunes CopyArchive.
type ArchiveOptions struct {
	// Chown, when set, gives every entry this owner (ADD --chown).
	Chown *Owner
	// Epoch, when set, clamps every mtime to at most this time.
	Epoch *time.Time
}
