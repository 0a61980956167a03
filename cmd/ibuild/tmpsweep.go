package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// sweepTmp removes what killed ibuild processes left in ROOT/tmp: partial
// blobs, unpacked layers and step directories that no one will finish. It
// runs only when lock, the store lock file, can be taken exclusively at
// once, that is when no other ibuild command uses the store, so nothing
// under ROOT/tmp is in use; otherwise the leftovers stay for a later
// command, and are harmless meanwhile (every writer makes names of its
// own). It never crosses into another file system, in case something is
// still mounted there. The caller then takes the lock shared, which
// replaces the exclusive one.
func sweepTmp(lock *os.File, root string) {
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return
	}
	tmp := filepath.Join(root, "tmp")
	var st syscall.Stat_t
	if syscall.Lstat(tmp, &st) != nil {
		return
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		removeOnDevice(filepath.Join(tmp, e.Name()), st.Dev)
	}
}

// removeOnDevice removes p and what is below it, skipping anything on a
// device other than dev (a mount point and everything under it).
func removeOnDevice(p string, dev uint64) {
	var st syscall.Stat_t
	if syscall.Lstat(p, &st) != nil || st.Dev != dev {
		return
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		// A directory the step made unreadable still has to go.
		_ = os.Chmod(p, 0o700)
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			removeOnDevice(filepath.Join(p, e.Name()), dev)
		}
	}
	_ = os.Remove(p)
}
