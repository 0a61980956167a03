#!/usr/bin/env bash
# test-deps.sh: make sure this machine has what ibuild's tests need.
#
# As root it installs the missing Debian packages and creates the
# unprivileged test user with a subordinate id range. As anyone else it says
# what is missing and how to get it, then carries on: the tests that need the
# missing piece fail (under `make test`) or skip (plain `go test`) by name.
# Running it again changes nothing.
set -euo pipefail

packages=(docker-registry busybox-static uidmap skopeo umoci buildah)
test_user=${IBUILD_TEST_USER:-ibuildtest}
range=65536

say() { printf 'test-deps: %s\n' "$*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# installed PACKAGE: the Debian package is installed (or, without dpkg, its
# program is in PATH).
installed() {
	if command -v dpkg-query >/dev/null; then
		dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
		return
	fi
	case $1 in
	busybox-static) [ -x /bin/busybox ] ;;
	uidmap) command -v newuidmap >/dev/null ;;
	*) command -v "$1" >/dev/null ;;
	esac
}

install_packages() {
	local missing=() p
	for p in "${packages[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if ! is_root || ! command -v apt-get >/dev/null; then
		say "missing packages: ${missing[*]}"
		say "install them with: sudo apt-get install -y ${missing[*]}"
		return
	fi
	say "installing ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# has_range FILE USER: FILE (/etc/subuid or /etc/subgid) gives USER a range,
# by name or by uid.
has_range() {
	local uid
	uid=$(id -u "$2" 2>/dev/null) || return 1
	[ -f "$1" ] && awk -F: -v n="$2" -v u="$uid" \
		'($1 == n || $1 == u) && $3 > 0 { found = 1 } END { exit !found }' "$1"
}

# next_start FILE: the start of a free range of $range ids in FILE: 100000,
# or past the highest end there, rounded up to a multiple of $range.
next_start() {
	awk -F: -v r="$range" '
		{ end = $2 + $3; if (end > max) max = end }
		END {
			if (max <= 100000) { print 100000; exit }
			printf "%.0f\n", int((max + r - 1) / r) * r
		}
	' "$1" 2>/dev/null || echo 100000
}

# add_range FILE USER: give USER a free range of $range ids in FILE.
add_range() {
	local start
	start=$(next_start "$1")
	say "adding $2:$start:$range to $1"
	if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then
		echo >>"$1" # the last line has no newline
	fi
	echo "$2:$start:$range" >>"$1"
}

setup_user() {
	if ! is_root; then
		local me
		me=$(id -un)
		if [ -n "${IBUILD_TEST_USER:-}" ] && ! id "$test_user" >/dev/null 2>&1; then
			say "no user $test_user; create it with: sudo useradd -m $test_user"
			return
		fi
		local u=${IBUILD_TEST_USER:-$me} start
		if ! has_range /etc/subuid "$u" || ! has_range /etc/subgid "$u"; then
			start=$(next_start /etc/subuid)
			say "no range for $u in /etc/subuid or /etc/subgid; rootless tests need one:"
			say "  sudo usermod --add-subuids $start-$((start + range - 1))" \
				"--add-subgids $start-$((start + range - 1)) $u"
		fi
		return
	fi
	if ! id "$test_user" >/dev/null 2>&1; then
		say "creating user $test_user"
		useradd -m -s /bin/sh "$test_user"
	fi
	local f
	for f in /etc/subuid /etc/subgid; do
		has_range "$f" "$test_user" || add_range "$f" "$test_user"
	done
}

# check_newuidmap: newuidmap and newgidmap must be setuid root or have file
# capabilities, or rootless ibuild can map only one id.
check_newuidmap() {
	local p path getcap
	getcap=$(command -v getcap || echo /usr/sbin/getcap)
	for p in newuidmap newgidmap; do
		path=$(command -v "$p") || { say "$p not found (package uidmap)"; continue; }
		if [ -u "$path" ]; then
			continue
		fi
		if [ -x "$getcap" ] && "$getcap" "$path" | grep -q 'cap_set[ug]id'; then
			continue
		fi
		say "$path is neither setuid nor has file capabilities;" \
			"reinstall uidmap: sudo apt-get install --reinstall uidmap"
	done
}

# check_userns: unprivileged user namespaces must be allowed.
check_userns() {
	local f=/proc/sys/kernel/unprivileged_userns_clone
	if [ -r $f ] && [ "$(cat $f)" = 0 ]; then
		say "unprivileged user namespaces are off; for the rootless tests:" \
			"sudo sysctl kernel.unprivileged_userns_clone=1"
	fi
	f=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
	if [ -r $f ] && [ "$(cat $f)" = 1 ]; then
		say "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+);" \
			"for the rootless tests: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
	fi
}

install_packages
setup_user
check_newuidmap
check_userns
say "done"
