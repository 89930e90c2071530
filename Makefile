# otelcol-sre — every target a developer or CI needs. Tools are pinned in internal/tools/go.mod and built
# into ./bin by Go itself; nothing is downloaded as a prebuilt binary.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
# The module proxy reachable here serves collector/contrib modules only through the proxy (no "direct"
# fallback) and some of their checksum look-ups fail, so: the configured proxy without ",direct", and no
# checksum-database look-ups for the collector and contrib module prefixes (go.sum still pins every hash).
export GOPROXY := $(shell $(GO) env GOPROXY | sed -e 's/[,|]direct$$//')
export GONOSUMDB := go.opentelemetry.io/collector,github.com/open-telemetry/opentelemetry-collector-contrib
# Nothing here may reach the EC2 instance-metadata address, even if an AWS component loads credentials.
export AWS_EC2_METADATA_DISABLED := true

BIN        := $(CURDIR)/bin
COLLECTOR  := $(BIN)/otelcol-sre
TOOLS_MOD  := internal/tools
# Our components: every directory with a metadata.yaml (mdatagen input).
COMPONENTS := $(patsubst %/metadata.yaml,%,$(wildcard receiver/*/metadata.yaml processor/*/metadata.yaml exporter/*/metadata.yaml))

# The release and git revision `otelcol-sre --version` reports. ocb writes builder-config.yaml's
# dist.version into distribution/main.go as a string literal (no variable for -ldflags -X), so every build
# compiles main.go through a `go build -overlay` copy whose literal also carries the revision as semver
# build metadata (0.1.0+<commit>[.dirty]); the committed ocb output stays byte for byte what ocb writes.
VERSION  := $(shell sed -n 's/^\t\tVersion: *"\(.*\)",$$/\1/p' distribution/main.go)
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo .dirty)
# Image timestamps (file mtimes, created, SBOM) come from the commit, so a rebuild gives the same digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# (The stamped copy is not named *.go: under bin/ it would be a package of the root module for ./...)
STAMP    := $(BIN)/stamp
# Static, stripped, path-free. (No build tags: they are part of Go's cache key, and one more would make
# every collector build on the machine cold once.)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -overlay $(STAMP)/overlay.json

# The OCI image (cmd/imagebuild): bin/image/oci (layout), bin/image/otelcol-sre-<version>.oci.tar (the
# same as an oci-archive), one CycloneDX SBOM per platform next to them.
IMAGE_DIR   := $(BIN)/image
IMAGE_ARCHS := amd64 arm64

.PHONY: tools build stamp image run test test-setup e2e generate check-generate lint check-source bench clean

# ocb's main package is .../cmd/builder; we call the binary ocb.
$(BIN)/ocb: $(TOOLS_MOD)/go.mod $(TOOLS_MOD)/go.sum
	cd $(TOOLS_MOD) && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/builder
$(BIN)/mdatagen: $(TOOLS_MOD)/go.mod $(TOOLS_MOD)/go.sum
	cd $(TOOLS_MOD) && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen
$(BIN)/staticcheck: $(TOOLS_MOD)/go.mod $(TOOLS_MOD)/go.sum
	cd $(TOOLS_MOD) && $(GO) build -o $@ honnef.co/go/tools/cmd/staticcheck
$(BIN)/telemetrygen: $(TOOLS_MOD)/go.mod $(TOOLS_MOD)/go.sum
	cd $(TOOLS_MOD) && $(GO) build -o $@ github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen

tools: $(BIN)/ocb $(BIN)/mdatagen $(BIN)/staticcheck $(BIN)/telemetrygen

# The collector binary, from the committed ocb output. Go's build cache makes a rebuild ~10 s.
build: stamp
	cd distribution && $(GOBUILD) -o $(COLLECTOR) .

stamp:
	@mkdir -p $(STAMP)
	@sed 's/^\(\t\tVersion: *\)"$(VERSION)",$$/\1"$(VERSION)+$(REVISION)",/' distribution/main.go > $(STAMP)/main.go.stamped
	@grep -q '"$(VERSION)+$(REVISION)"' $(STAMP)/main.go.stamped || { echo "distribution/main.go: no Version literal to stamp"; exit 1; }
	@printf '{"Replace":{"%s":"%s"}}\n' "$(CURDIR)/distribution/main.go" "$(STAMP)/main.go.stamped" > $(STAMP)/overlay.json

# One static binary per platform (the arm64 one cross-compiled), then the image from them; no base image,
# no container engine. Warm, most of the time is linking the two binaries.
image: $(IMAGE_ARCHS:%=$(BIN)/linux_%/otelcol-sre)
	$(GO) run ./cmd/imagebuild -out $(IMAGE_DIR) -version $(VERSION) -revision $(REVISION) \
	  -source-date-epoch $(SOURCE_DATE_EPOCH) -ca-bundle /etc/ssl/certs/ca-certificates.crt \
	  -zoneinfo "$$($(GO) env GOROOT)/lib/time/zoneinfo.zip" \
	  -ca-package "ca-certificates=$$(dpkg-query -W -f='$${Version}' ca-certificates)" \
	  $(foreach a,$(IMAGE_ARCHS),-binary linux/$(a)=$(BIN)/linux_$(a)/otelcol-sre)

$(BIN)/linux_%/otelcol-sre: stamp
	mkdir -p $(@D) && cd distribution && GOOS=linux GOARCH=$* $(GOBUILD) -o $@ .

run: build
	$(COLLECTOR) --config deploy/configs/local.yaml

# Everything generated: mdatagen for each of our components (internal/metadata, documentation.md,
# generated tests, the README status block), every //go:generate directive (deploy's ACK and Operator
# resources, ...; with ./bin first on PATH), then ocb (sources only; `build` compiles them).
generate: $(BIN)/ocb $(BIN)/mdatagen
	for c in $(COMPONENTS); do (cd $$c && $(BIN)/mdatagen metadata.yaml); done
	PATH="$(BIN):$$PATH" $(GO) generate ./...
	GOFLAGS=-mod=mod $(BIN)/ocb --config builder-config.yaml --skip-compilation

# Any difference anywhere in the work tree after `generate` fails: commit your work first.
check-generate: generate
	@git diff --exit-code --stat && test -z "$$(git status --porcelain)" || \
	  { git status --porcelain; echo "make generate changed or added files: run it and commit the result"; exit 1; }

# What the tests need from the machine: Debian packages (installed when root and missing), the test
# control plane (built once per machine, cached by version); prints which tests will skip and why.
test-setup:
	bash internal/testenv/setup.sh

# Every unit, integration and end-to-end test; -race for all (our components run goroutines).
# The end-to-end tests run the binary that `build` just made; the image tests (deploy) unpack and run
# the image that `image` just made. testsummary prints what plain `go test` would, then the counts
# (passed, failed, skipped) and why each skipped test skipped.
test: test-setup build image
	OTELCOL_SRE_BINARY=$(COLLECTOR) OTELCOL_SRE_IMAGE=$(IMAGE_DIR)/oci $(GO) test -race -count=1 -timeout 45m -json ./... | $(GO) run ./internal/testenv/testsummary

e2e: build
	OTELCOL_SRE_BINARY=$(COLLECTOR) $(GO) test -count=1 -v -timeout 30m ./test/e2e/...

lint: $(BIN)/staticcheck check-source
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# Every Go file we write opens with the project's two header lines and is gofmt-clean (generated files
# say so instead and are left as their generator wrote them).
HEADER := // Copyright otelcol-sre authors|// SPDX-License-Identifier: Apache-2.0
check-source:
	@files=$$(git ls-files -co --exclude-standard '*.go' | xargs grep -L '^// Code generated .* DO NOT EDIT\.$$'); \
	bad=$$(for f in $$files; do [ "$$(head -2 "$$f" | paste -sd'|')" = "$(HEADER)" ] || echo "$$f"; done); \
	test -z "$$bad" || { echo "these Go files lack the two header lines (see CONTRIBUTING.md):"; echo "$$bad"; exit 1; }; \
	unformatted=$$(gofmt -l $$files); \
	test -z "$$unformatted" || { echo "not gofmt-clean (run gofmt -w):"; echo "$$unformatted"; exit 1; }

# Benchmarks of every component, each with its anchor in the same run; results land next to the code.
bench:
	for c in $(COMPONENTS); do \
	  $(GO) test -run '^$$' -bench . -benchmem -count 5 ./$$c/... | tee $$c/benchmarks.txt; \
	done

clean:
	rm -rf $(BIN)
