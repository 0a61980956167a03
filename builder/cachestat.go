package builder

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// statCache remembers the sha256 of context files by their stat data
// (device, inode, size, mtime and ctime in ns, mode), so a warm rebuild
// reads only the files that changed. It is loaded on first use and saved
// once at the end of the build.
type statCache struct {
	path string

	once  sync.Once
	mu    sync.Mutex
	m     map[string]statEntry
	used  map[string]bool
	dirty bool
}

// statEntry is what the stat cache knows of one file.
type statEntry struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
	mode         uint32
	sum          string
}

// racyWindow: a file changed this recently may change again within the
// file system's timestamp granularity without its stat data changing, so
// its digest is not remembered (git's "racily clean" problem).
const racyWindow = time.Second

// maxStatEntries bounds the entries kept from earlier builds.
const maxStatEntries = 200000

func newStatCache(cacheDir, contextDir string) *statCache {
	abs, err := filepath.Abs(contextDir)
	if err != nil {
		abs = contextDir
	}
	return &statCache{path: filepath.Join(cacheDir, "stat", hashStrings(abs)[:32])}
}

func entryOf(st *syscall.Stat_t, sum string) statEntry {
	return statEntry{dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), mode: st.Mode, sum: sum}
}

// lookup returns the remembered sha256 of the file at p if its stat data
// st is unchanged.
func (c *statCache) lookup(p string, st *syscall.Stat_t) (string, bool) {
	if st == nil {
		return "", false
	}
	c.once.Do(c.load)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[p]
	want := entryOf(st, e.sum)
	if !ok || e != want {
		return "", false
	}
	c.used[p] = true
	return e.sum, true
}

// store remembers sum for the file at p with stat data st.
func (c *statCache) store(p string, st *syscall.Stat_t, sum string) {
	if st == nil || strings.ContainsRune(p, '\n') {
		return
	}
	limit := time.Now().Add(-racyWindow).UnixNano()
	if st.Mtim.Nano() > limit || st.Ctim.Nano() > limit {
		return
	}
	c.once.Do(c.load)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[p] = entryOf(st, sum)
	c.used[p] = true
	c.dirty = true
}

// load reads the file; a missing or damaged one is an empty cache.
func (c *statCache) load() {
	c.m, c.used = map[string]statEntry{}, map[string]bool{}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if p, e, ok := parseStatLine(sc.Text()); ok {
			c.m[p] = e
		}
	}
}

// A line is "dev ino size mtime ctime mode sum path".
func parseStatLine(line string) (string, statEntry, bool) {
	f := strings.SplitN(line, " ", 8)
	if len(f) != 8 || len(f[6]) != 64 || f[7] == "" {
		return "", statEntry{}, false
	}
	dev, err1 := strconv.ParseUint(f[0], 10, 64)
	ino, err2 := strconv.ParseUint(f[1], 10, 64)
	size, err3 := strconv.ParseInt(f[2], 10, 64)
	mtime, err4 := strconv.ParseInt(f[3], 10, 64)
	ctime, err5 := strconv.ParseInt(f[4], 10, 64)
	mode, err6 := strconv.ParseUint(f[5], 10, 32)
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			return "", statEntry{}, false
		}
	}
	return f[7], statEntry{dev: dev, ino: ino, size: size, mtime: mtime, ctime: ctime,
		mode: uint32(mode), sum: f[6]}, true
}

// save writes the cache with write (atomically) when it changed: the
// entries this build used, and the older ones while there are not too
// many.
func (c *statCache) save(write func(path string, data []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	keepOld := len(c.m) <= maxStatEntries
	var buf bytes.Buffer
	for p, e := range c.m {
		if !keepOld && !c.used[p] {
			continue
		}
		buf.WriteString(strconv.FormatUint(e.dev, 10) + " " + strconv.FormatUint(e.ino, 10) +
			" " + strconv.FormatInt(e.size, 10) + " " + strconv.FormatInt(e.mtime, 10) +
			" " + strconv.FormatInt(e.ctime, 10) + " " + strconv.FormatUint(uint64(e.mode), 10) +
			" " + e.sum + " " + p + "\n")
	}
	c.dirty = false
	return write(c.path, buf.Bytes())
}
