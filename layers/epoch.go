package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"time"
)

// clamp limits timestamps to at most an epoch (SOURCE_DATE_EPOCH). A nil
// *clamp leaves them alone.
type clamp struct{ epoch time.Time }

func newClamp(t *time.Time) *clamp {
	if t == nil {
		return nil
	}
	return &clamp{*t}
}

func (c *clamp) time(t time.Time) time.Time {
	if c == nil || !t.After(c.epoch) {
		return t
	}
	return c.epoch
}

// header clamps the header's times. Zero access and change times stay zero.
func (c *clamp) header(h *tar.Header) {
	if c == nil {
		return
	}
	h.ModTime = c.time(h.ModTime)
	if !h.AccessTime.IsZero() {
		h.AccessTime = c.time(h.AccessTime)
	}
	if !h.ChangeTime.IsZero() {
		h.ChangeTime = c.time(h.ChangeTime)
	}
	// The Header fields win over these records when writing, but drop them
	// so no stale time can survive.
	for _, k := range []string{"mtime", "atime", "ctime"} {
		delete(h.PAXRecords, k)
	}
}

// clampStream runs fill against a tar writer whose stream is read back,
// clamped to epoch entry by entry and written to w as a new tar stream.
func clampStream(w io.Writer, epoch time.Time, fill func(tw *tar.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		err := fill(tw)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()

	err := copyClamped(w, tar.NewReader(pr), &clamp{epoch})
	pr.Close() // unblocks fill if the copy stopped early
	fillErr := <-done
	if fillErr != nil && !errors.Is(fillErr, io.ErrClosedPipe) {
		return fillErr // the cause; the copy only saw a broken stream
	}
	if err != nil {
		return err
	}
	return fillErr
}

func copyClamped(w io.Writer, tr *tar.Reader, c *clamp) error {
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		c.header(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
	}
}
