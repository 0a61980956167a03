# ibuild: build, test and install.
#
#   make test     install what the tests need (as root), then run every test
#   make build    ./ibuild, a static binary
#   make vet      gofmt and go vet
#   make hello    build examples/hello with ./ibuild
#   make install  copy ./ibuild to $(PREFIX)/bin

GO     ?= go
PREFIX ?= /usr/local

.PHONY: all build test test-deps vet hello install clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o ibuild ./cmd/ibuild

# IBUILD_TEST_REQUIRE=1 turns a missing prerequisite into a failure: under
# `make test` no test passes by being skipped. go test runs as many packages
# at once as there are cores.
test: test-deps
	IBUILD_TEST_REQUIRE=1 $(GO) test -count=1 -timeout 25m ./...

test-deps:
	bash scripts/test-deps.sh

vet:
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then \
		echo "gofmt -w needed:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

hello: build
	./ibuild -t hello examples/hello

install: build
	install -D -m 0755 ibuild $(DESTDIR)$(PREFIX)/bin/ibuild

clean:
	rm -f ibuild
