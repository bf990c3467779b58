GO ?= go
# staticcheck 2025.1.1, by its module version: the module proxy serves
# honnef.co/go/tools by semantic version (v0.6.1), not by release name.
STATICCHECK_VERSION ?= v0.6.1
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME ?= 30s

.PHONY: run test test-stress proof bench bench-micro bench-e2e bench-growth bench-report bench-pkg lint fuzz

# The example app on its embedded default store (bbolt, no server needed).
# The first run compiles every store driver (the example opens any store
# URL): a minute or two on an empty build cache, then seconds.
run:
	@echo "Building the example (the first build compiles every store driver: a minute or two)..."
	$(GO) run ./example

# Every test, with the race detector: go test -race -count=1 -timeout 15m
# ./..., read through internal/testsummary. It prints an ok line per
# package, the output of each failed test with a recap of its failure at the
# end of its package, then the tests skipped for a missing server or browser
# with the Debian packages to install, and last "tests: N passed, N failed,
# N skipped". It exits non-zero when go test does or a test failed. Stores
# on servers start private servers on 127.0.0.1; a missing binary skips
# unless HTTPSESSION_REQUIRE_SERVICES=1 (CI), where it fails. Expected log
# lines go to t.Log: go test -v ./... shows everything. Under the race
# detector the save-protocol proof explores a few combinations; the last
# line explores its bounded set (every combination under a still clock, a
# few under a moving one) without the race detector's cost.
TESTFLAGS ?= -race -count=1 -timeout 15m
test:
	$(GO) vet ./...
	@dir=$$(mktemp -d) && $(GO) build -o $$dir/testsummary ./internal/testsummary && \
	  GO=$(GO) $$dir/testsummary $(TESTFLAGS) ./...; rc=$$?; rm -rf $$dir; exit $$rc
	$(GO) test -count=1 -run '^TestProof$$' ./internal/proof

# make test STRESS_RUNS times in a row with two CPU-bound processes beside
# it, then each test that once failed under load STRESS_COUNT times in a
# row: the proof that the suite does not flake on a loaded 2-core machine.
# Slow: about two hours on 2 cores.
STRESS_RUNS ?= 5
STRESS_COUNT ?= 50
STRESS_TESTS = \
	'^TestHostile' . \
	'^TestConformance$$/^Expiry$$' ./store/filestore/ \
	'^(TestSingle|TestCluster)$$/^Conformance$$/^Expiry$$' ./store/redisstore/ \
	'^TestPostgres$$' ./store/sqlstore/
test-stress:
	@set -e; pids=; \
	trap 'kill $$pids 2>/dev/null || true' EXIT; trap 'exit 1' INT TERM; \
	for i in 1 2; do timeout 4h sh -c 'while :; do :; done' & pids="$$pids $$!"; done; \
	for i in $$(seq $(STRESS_RUNS)); do \
	  echo "== make test, run $$i of $(STRESS_RUNS), two CPU-bound processes beside it"; \
	  $(MAKE) --no-print-directory test; \
	done; \
	set -- $(STRESS_TESTS); \
	while [ $$# -gt 0 ]; do \
	  echo "== go test -race -count=$(STRESS_COUNT) -run '$$1' $$2"; \
	  $(GO) test -race -count=$(STRESS_COUNT) -timeout 3h -run "$$1" "$$2"; \
	  shift 2; \
	done; \
	echo "== test-stress: $(STRESS_RUNS) runs of make test and $(STRESS_COUNT) runs of each test passed"

# Every interleaving of the store calls of three concurrent requests on one
# session, for every combination of requests and clocks (internal/proof):
# prints the schedules explored per combination and the violations.
proof:
	@out=$$(mktemp); \
	$(GO) test -count=1 -timeout 0 -run '^TestProof$$' -v ./internal/proof -proof.full >$$out 2>&1; \
	status=$$?; grep -E '^(proof: |--- FAIL|    --- FAIL|FAIL|ok|panic)' $$out; \
	if [ $$status -ne 0 ]; then echo "full log: $$out"; else rm -f $$out; fi; exit $$status

# The comparison with scs and gorilla/sessions (bench/, a module of its
# own): private servers on 127.0.0.1, BENCH_ROUNDS interleaved rounds of the
# micro benchmarks, the end-to-end wrk load, the growth benchmarks, then
# BENCHMARKS.md, bench/chart.png and bench/growth.png. About 15 minutes on
# 2 CPUs (5 rounds of 0.3 s per benchmark, then 12 wrk runs of 10 s, then
# the growth benchmarks at 100,000 sessions).
BENCH_ROUNDS ?= 5
BENCHTIME ?= 0.3s
E2E_DURATION ?= 10s
BENCH_ENV = GO=$(GO) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCHTIME=$(BENCHTIME) E2E_DURATION=$(E2E_DURATION)

# The growth benchmarks compare 1,000 sessions with GROWTH_LARGE: 100,000
# by default, so that make bench stays short; GROWTH_LARGE=1000000 is the
# full size (about 10 minutes for this stage, and 3 GB of memory: every
# store of a kind stays open at both sizes while their rounds interleave).
GROWTH_LARGE ?= 100000
GROWTH_ROUNDS ?= 5
GROWTH_SWEEP_ROUNDS ?= 3
GROWTH_BENCHTIME ?= 0.3s
GROWTH_ENV = GO=$(GO) BENCH_GROWTH_SIZES=1000,$(GROWTH_LARGE) BENCH_GROWTH_ROUNDS=$(GROWTH_ROUNDS) \
	BENCH_GROWTH_SWEEP_ROUNDS=$(GROWTH_SWEEP_ROUNDS) GROWTH_BENCHTIME=$(GROWTH_BENCHTIME)

bench: bench-micro bench-e2e bench-growth bench-report

bench-micro:
	cd bench && $(BENCH_ENV) ./servers.sh ./micro.sh results/micro.txt

# The example app and a minimal scs server under wrk, 10 s per server and
# route (12 runs).
bench-e2e:
	cd bench && $(BENCH_ENV) ./servers.sh ./e2e.sh results/e2e.txt

# W2 and W3 on memstore, boltstore, SQLite, PostgreSQL and Redis holding
# 1,000 and GROWTH_LARGE sessions, GROWTH_ROUNDS interleaved rounds; then
# the stall of memstore's sweep and SQLite's sweep of GROWTH_LARGE expired
# rows, GROWTH_SWEEP_ROUNDS rounds each (bench/growth.sh).
bench-growth:
	cd bench && $(GROWTH_ENV) ./servers.sh ./growth.sh results/growth.txt

bench-report:
	cd bench && $(GO) run ./cmd/report -micro results/micro.txt -e2e results/e2e.txt \
	  -load results/load.txt -growth results/growth.txt -analysis analysis.md \
	  -out ../BENCHMARKS.md -chart chart.png -growth-chart growth.png

# Every package's own benchmarks (the root package, codec, storetest's
# store benchmarks on each store that has a server here, ...), once each.
bench-pkg:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# go vet and staticcheck $(STATICCHECK_VERSION), installed into GOPATH/bin
# when it is missing or another version.
lint:
	$(GO) vet ./...
	@if ! $(STATICCHECK) -version 2>/dev/null | grep -q '($(STATICCHECK_VERSION:v%=%))'; then \
	  echo "Installing staticcheck $(STATICCHECK_VERSION) (honnef.co/go/tools) into $$($(GO) env GOPATH)/bin..."; \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	$(STATICCHECK) ./...

# Each fuzz target for FUZZTIME: go test -fuzz takes one target of one
# package per run. go test -list builds the packages that declare targets
# and fails if one does not build, rather than drop its targets unseen;
# it prints each package's target names, then the package's "ok" line.
fuzz:
	@set -e; pkgs=$$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); \
	list=$$($(GO) test -list '^Fuzz' $$pkgs); \
	echo "$$list" | awk '/^Fuzz/ { t[n++] = $$1 } /^ok / { for (i = 0; i < n; i++) print $$2, t[i]; n = 0 }' | \
	while read -r pkg target; do \
	  echo "== $$pkg $$target"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg </dev/null; \
	done
