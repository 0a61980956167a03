//go:build linux

package layers

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// gnuSparse builds an old GNU sparse entry ('S') claiming realSize bytes,
// with 512 bytes of data at offset 0 and a hole after them.
func gnuSparse(realSize int64) []byte {
	b := make([]byte, 512)
	copy(b, "sparse")
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], "00000001000\x00")
	copy(b[136:], "13603227265\x00")
	b[156] = 'S'
	copy(b[257:], "ustar  \x00")
	copy(b[386:], "00000000000\x00")
	copy(b[398:], "00000001000\x00")
	b[483] = 0x80 // base-256 real size
	binary.BigEndian.PutUint64(b[487:], uint64(realSize))
	fixChecksum(b)
	data := bytes.Repeat([]byte("A"), 512)
	return append(append(b, data...), make([]byte, 1024)...)
}

// TestExtractSparse checks that a sparse file's holes are not written out:
// a layer cannot fill the disk with a tiny archive.
func TestExtractSparse(t *testing.T) {
	root := t.TempDir()
	const size = 2 << 30
	err := Extract(context.Background(), bytes.NewReader(gnuSparse(size)), root, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("size %d using %d bytes; want %d using at most 1 MiB", st.Size, st.Blocks*512, size)
	}
	f, err := os.Open(filepath.Join(root, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 600)
	if _, err := f.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("A", 512) + string(make([]byte, 88)); string(head) != want {
		t.Errorf("content starts %q", head[:16])
	}

	err = Extract(context.Background(), bytes.NewReader(gnuSparse(1<<50)), t.TempDir(),
		ExtractOptions{})
	if !errContains(err, "bytes free") {
		t.Errorf("a 1 PiB sparse file: %v", err)
	}
}
