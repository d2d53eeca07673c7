# Foundation — build, test, benchmark and demo targets.
GO        ?= go
PROTOC    ?= protoc
PKGS      := ./...

# An execution count, not a duration: a -fuzztime duration puts the fuzz
# coordinator under a context deadline that can end a clean run with
# "context deadline exceeded" on a loaded machine.
FUZZTIME  ?= 3000x

.PHONY: build test fuzz bench proto demo lint tools kubeapi

# RACE is the race detector everywhere but in gRPC's logging shim.
# proto.actor's remote.Start calls grpclog.SetLoggerV2 on every start: a
# plain write to a global that gRPC documents as "not mutex-protected,
# should be called before any gRPC functions", while the gRPC servers and
# clients of the members already running in the process read it each time
# they log. A test that starts a second member can then report that race
# (rarely: most runs order the two by chance), and no code of ours can
# order them. -l keeps grpclog's functions from being inlined into callers
# that are instrumented. See docs/reference/troubleshooting.md.
RACE      := -race -gcflags='google.golang.org/grpc/grpclog/...=-race=false -l'

# Where `make kubeapi` puts the test Kubernetes API server and its etcd
# (internal/kubeapi finds them there).
KUBEAPI_BIN := $(CURDIR)/.bin/kubeapi

build:
	$(GO) build $(PKGS)

## test: the whole suite, under the race detector; then, without it, the
## tests that run proto.actor's own cluster, which has data races of its own
## (see cluster/protocluster; examples/migration-examples/before is a
## proto.actor cluster program), and the fifty-member formation, CPU-bound
## under the race detector (cluster/scale_test.go); then the fuzz targets.
## The tests against a real Kubernetes API server need `make kubeapi` first
## (a prerequisite here); provider/etcd runs a second time against the etcd
## 3.6 built with it, after Debian's etcd 3.4.
test: kubeapi
	$(GO) test $(RACE) -count=1 -timeout 15m $(PKGS)
	@echo "provider/etcd against $$($(KUBEAPI_BIN)/etcd --version | head -1)"
	FOUNDATION_ETCD_BIN=$(KUBEAPI_BIN)/etcd $(GO) test $(RACE) -count=1 -timeout 5m ./provider/etcd/...
	$(GO) test -count=1 -timeout 5m ./cluster/protocluster/ ./examples/migration-examples/before/
	$(GO) test -count=1 -timeout 5m -run 'TestFiftyMembersFromOneSeed' ./cluster/
	$(MAKE) fuzz

## fuzz: every fuzz target for FUZZTIME each (the seed corpora under
## testdata/fuzz also run in the plain test pass).
FUZZ_TARGETS := \
	./cluster:FuzzReadHandshake ./cluster:FuzzDecodeNode ./cluster:FuzzStreamServer \
	./cluster:FuzzLoadConfigYAML ./cluster:FuzzLoadConfigEnv ./grain:FuzzReadFrame \
	./provider:FuzzVerify ./provider/mdns:FuzzParse ./provider/etcd:FuzzViewPut \
	./provider/static:FuzzNew ./crdt:FuzzReadFrame ./internal/frame:FuzzRead
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

## tools: the programs the end-to-end tests start, built into .bin (git
## ignores it) at the versions pinned in telemetry/internal/tools/go.mod, a
## module of its own so that Jaeger's dependencies stay out of go.mod.
## Prometheus and Chromium come from Debian (.ci/run installs them).
tools:
	cd telemetry/internal/tools && $(GO) build -o $(CURDIR)/.bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## kubeapi: build kube-apiserver and etcd from the nested module
## tools/kubeapi (pinned in its go.mod and go.sum) into .bin/kubeapi, for
## the tests against a real Kubernetes API server (internal/kubeapi): about
## 7.5 minutes and 2.2 GB of build cache on a new machine, seconds once the
## Go build cache is warm, nothing when already built. See
## tools/kubeapi/build.sh.
kubeapi:
	tools/kubeapi/build.sh $(KUBEAPI_BIN)

## bench: every benchmark scenario of ./bench (figures go to BENCHMARKS.md).
bench:
	$(GO) run ./bench all

## proto: regenerate internal/protos/*.pb.go with protoc and the protoc-gen-go pinned in go.mod.
proto:
	$(GO) build -o .bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(PROTOC) --plugin=protoc-gen-go=.bin/protoc-gen-go -I internal/protos --go_out=internal/protos --go_opt=paths=source_relative internal/protos/*.proto

## demo: a local demonstration (see README.md).
demo:
	$(GO) run ./examples/demo

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
