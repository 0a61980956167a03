package builder

import (
	"fmt"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
)

// lookupInRoot resolves "user[:group]" against root's /etc/passwd and
// /etc/group. With chown set, a missing group takes the user's primary gid
// as Docker's --chown does; for USER the primary group and the
// supplementary groups of the user apply.
func lookupInRoot(root, spec string, chown bool) (owner, error) {
	passwd, err := securejoin.SecureJoin(root, "/etc/passwd")
	if err != nil {
		return owner{}, err
	}
	group, err := securejoin.SecureJoin(root, "/etc/group")
	if err != nil {
		return owner{}, err
	}
	defaults := user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUserPath(spec, &defaults, passwd, group)
	if err != nil {
		return owner{}, fmt.Errorf("resolving user %q in the image: %w", spec, err)
	}
	o := owner{uid: eu.Uid, gid: eu.Gid, home: eu.Home}
	if !chown {
		// The primary group leads the supplementary groups, as BuildKit
		// (containerd's WithAdditionalGIDs) gives them to RUN steps.
		o.groups = []int{eu.Gid}
		for _, g := range eu.Sgids {
			if g != eu.Gid {
				o.groups = append(o.groups, g)
			}
		}
	}
	return o, nil
}

// numericUser parses "uid[:gid]" without a lookup; ok is false when either
// part is a name.
func numericUser(spec string) (uid, gid int, hasGroup, ok bool) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return 0, 0, false, false
	}
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, false, false
		}
	}
	return uid, gid, hasGroup, true
}
