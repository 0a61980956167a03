// Package compat checks that ibuild builds the same image as the reference
// builders do from the same Dockerfile and context.
//
// The differential suite (compat_test.go) builds every case of
// testdata/compat with ibuild and with `buildah bud`, flattens both images
// with [Flatten] into a [Tree] (path → type, mode, owner, size, content
// hash, link target, hard-link group, xattrs), reads the compared part of
// their configs with [ConfigOf], and reports what differs with [DiffTrees]
// and [DiffConfigs]. Where buildah 1.28 is known to differ from Docker, the
// case names the difference (see KNOWN_DIFFERENCES.md) and the suite either
// drops it by rule or corrects buildah's result to Docker's with the case's
// expect.json before comparing.
package compat
