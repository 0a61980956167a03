package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// idRange maps Size ids from Inside (in the namespace) to Outside (on the host).
type idRange struct{ Inside, Outside, Size uint32 }

// idMap is the content of /proc/PID/uid_map or gid_map.
type idMap []idRange

func (m idMap) contains(id uint32) bool {
	for _, r := range m {
		if id >= r.Inside && id-r.Inside < r.Size {
			return true
		}
	}
	return false
}

func (m idMap) size() uint64 {
	var n uint64
	for _, r := range m {
		n += uint64(r.Size)
	}
	return n
}

func readIDMap(path string) (idMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading id map: %w", err)
	}
	var m idMap
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r idRange
		if _, err := fmt.Sscan(line, &r.Inside, &r.Outside, &r.Size); err != nil {
			return nil, fmt.Errorf("parsing %s line %q: %w", path, line, err)
		}
		m = append(m, r)
	}
	return m, nil
}

// subIDRange is one line of /etc/subuid or /etc/subgid for the user.
type subIDRange struct{ Start, Count uint32 }

// readSubIDs returns the ranges in r (the /etc/subuid-style file named file) for
// the user given by name or by numeric id.
func readSubIDs(file string, r io.Reader, name string, id int) ([]subIDRange, error) {
	var out []subIDRange
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("parsing %s line %q: %w", file, line, err)
		}
		if count > 0 {
			out = append(out, subIDRange{uint32(start), uint32(count)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return out, nil
}

// subIDsOf reads the user's ranges from file; a missing file has none.
func subIDsOf(file, name string, id int) ([]subIDRange, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading subordinate ids: %w", err)
	}
	defer f.Close()
	return readSubIDs(file, f, name, id)
}

// mapping is the plan for the user namespace: full maps via the uidmap tools
// (newuidmap set), or the user's own ids alone with a warning.
type mapping struct {
	uid, gid             int
	newuidmap, newgidmap string
	uids, gids           []subIDRange
	warning              string
}

func planMapping(uid, gid int) (*mapping, error) {
	m := &mapping{uid: uid, gid: gid}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	var err error
	if m.uids, err = subIDsOf("/etc/subuid", name, uid); err != nil {
		return nil, err
	}
	if m.gids, err = subIDsOf("/etc/subgid", name, uid); err != nil {
		return nil, err
	}
	uidTool, uerr := exec.LookPath("newuidmap")
	gidTool, gerr := exec.LookPath("newgidmap")
	switch {
	case len(m.uids) == 0 || len(m.gids) == 0:
		m.warning = fmt.Sprintf("user %s has no subordinate id range in /etc/subuid and "+
			"/etc/subgid: only uid 0 is mapped, steps that use other users or groups will fail",
			name)
	case uerr != nil || gerr != nil:
		m.warning = "newuidmap/newgidmap (package uidmap) not found: only uid 0 is mapped, " +
			"steps that use other users or groups will fail"
	default:
		m.newuidmap, m.newgidmap = uidTool, gidTool
	}
	return m, nil
}

// write maps the ids of process pid: 0 to the user, then the ranges from 1 on.
func (m *mapping) write(pid int) error {
	if err := runIDTool(m.newuidmap, pid, m.uid, m.uids); err != nil {
		return err
	}
	return runIDTool(m.newgidmap, pid, m.gid, m.gids)
}

func runIDTool(tool string, pid, own int, ranges []subIDRange) error {
	args := []string{strconv.Itoa(pid), "0", strconv.Itoa(own), "1"}
	next := uint64(1)
	for _, r := range ranges {
		args = append(args, strconv.FormatUint(next, 10),
			strconv.FormatUint(uint64(r.Start), 10), strconv.FormatUint(uint64(r.Count), 10))
		next += uint64(r.Count)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("running %s %s: %w: %s", tool, strings.Join(args, " "), err,
			strings.TrimSpace(string(out)))
	}
	return nil
}
