//go:build !linux

package layers

import (
	"archive/tar"
	"errors"
	"io"
)

var errNotLinux = errors.New("only supported on linux")

type extractor struct{}

func newExtractor(string, ExtractOptions) (*extractor, error) { return nil, errNotLinux }

func (*extractor) close()                                    {}
func (*extractor) finish() error                             { return errNotLinux }
func (*extractor) mkdir(string, *tar.Header) error           { return errNotLinux }
func (*extractor) file(string, *tar.Header, io.Reader) error { return errNotLinux }
func (*extractor) symlink(string, *tar.Header) error         { return errNotLinux }
func (*extractor) link(string, string) error                 { return errNotLinux }
func (*extractor) node(string, *tar.Header) error            { return errNotLinux }
func (*extractor) whiteout(string, *tar.Header) error        { return errNotLinux }
func (*extractor) opaque(string) error                       { return errNotLinux }
