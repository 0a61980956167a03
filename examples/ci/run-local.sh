#!/usr/bin/env bash
# run-local.sh: run the build commands of the CI examples on this machine, as
# an ordinary user, against a registry you name. It runs the lines between
# "# >>> ibuild-ci" and "# <<< ibuild-ci" of github-actions.yml and
# gitlab-ci.yml, as they are, with the variables the CI would set.
#
#   REGISTRY=127.0.0.1:5000 examples/ci/run-local.sh
#
# Environment:
#   REGISTRY      host:port of the registry to push to (required; localhost
#                 and 127.0.0.1 are reached over plain HTTP)
#   CONTEXT       the directory to build (default: examples/ci/app)
#   IBUILD        the ibuild binary (default: ibuild in PATH)
#   IBUILD_FLAGS  more build flags, e.g. --registry-mirror 127.0.0.1:5000
#                 when the registry holds library/busybox:1.36
# The images are REGISTRY/ci/github and REGISTRY/ci/gitlab. Nothing outside a
# temporary directory is written: the ibuild store and the registry login
# live there and are removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${REGISTRY:?set REGISTRY to host:port of the registry to push to}"
context=$(cd "${CONTEXT:-$here/app}" && pwd)
ibuild=$(command -v "${IBUILD:-ibuild}") || { echo "run-local: no ibuild" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ibuild-ci.XXXXXX")
cleanup() {
	# The store holds files of subordinate ids, which only our user
	# namespace may remove.
	rm -rf "$work" 2>/dev/null ||
		unshare --map-root-user --map-auto rm -rf "$work" 2>/dev/null ||
		echo "run-local: could not remove $work" >&2
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/data" "$work/docker"
ln -s "$ibuild" "$work/bin/ibuild"
export PATH="$work/bin:$PATH" XDG_DATA_HOME="$work/data" DOCKER_CONFIG="$work/docker"
export IBUILD_FLAGS="${IBUILD_FLAGS:-}"

# marked FILE prints the marked lines of FILE without their indentation.
marked() {
	awk '/# <<< ibuild-ci/ { on = 0 } on { print } /# >>> ibuild-ci/ { on = 1 }' "$1" |
		sed -E 's/^[[:space:]]+//'
}

# run NAME FILE runs the marked lines of FILE in the context directory.
run() {
	local script
	script=$(marked "$2")
	if [ -z "$script" ]; then
		echo "run-local: no ibuild-ci lines in $2" >&2
		exit 1
	fi
	echo "run-local: $1"
	(cd "$context" && bash -euo pipefail -c "$script")
}

sha=$(printf 'run-local %s' "$(date +%s)" | sha1sum | cut -c1-40)

REGISTRY="$REGISTRY" IMAGE="$REGISTRY/ci/github" GIT_SHA="$sha" \
	REGISTRY_USER=ci REGISTRY_PASSWORD=local \
	run "GitHub Actions" "$here/github-actions.yml"

CI_REGISTRY="$REGISTRY" CI_REGISTRY_IMAGE="$REGISTRY/ci/gitlab" IMAGE="$REGISTRY/ci/gitlab" \
	CI_REGISTRY_USER=ci CI_REGISTRY_PASSWORD=local \
	CI_COMMIT_SHA="$sha" CI_COMMIT_SHORT_SHA="${sha:0:8}" \
	run "GitLab CI" "$here/gitlab-ci.yml"

echo "run-local: pushed $REGISTRY/ci/github:latest and $REGISTRY/ci/gitlab:latest"
