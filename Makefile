# ibuild: build, test and install.
#
#   make test     install what the tests need (as root), then run every test
#   make compat   the compatibility suite: ibuild against buildah (as root)
#   make build    ./ibuild, a static binary; `ibuild version` names the commit
#   make vet      gofmt and go vet
#   make hello    build examples/hello with ./ibuild and show the image
#   make install  copy ./ibuild to $(PREFIX)/bin

GO     ?= go
PREFIX ?= /usr/local
BIN    ?= ibuild

# The version and commit `ibuild version` prints; without git (a source
# tarball) the binary says "dev" and falls back to Go's build information.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build test test-deps compat vet hello install clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ibuild

# IBUILD_TEST_REQUIRE=1 turns a missing prerequisite into a failure: under
# `make test` no test passes by being skipped. go test runs as many packages
# at once as there are cores.
test: test-deps
	IBUILD_TEST_REQUIRE=1 $(GO) test -count=1 -timeout 25m ./...

test-deps:
	bash scripts/test-deps.sh

# Builds every case of testdata/compat with buildah and with ibuild and
# compares the images (compat/README.md); needs root for buildah.
compat: test-deps
	IBUILD_TEST_REQUIRE=1 $(GO) test -count=1 -timeout 30m ./compat/

vet:
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then \
		echo "gofmt -w needed:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

# Builds the hello example (no network needed) into the local store and an
# OCI layout, then shows what was built.
hello: build
	./ibuild -t hello -o type=oci,dest=hello.oci examples/hello
	./ibuild images hello
	./ibuild inspect --format '{{json .Config}}' hello

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ibuild

clean:
	rm -rf $(BIN) hello.oci
