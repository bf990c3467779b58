GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME ?= 30s

.PHONY: run test bench bench-micro bench-e2e bench-report bench-pkg lint fuzz

# The example app on its embedded default store (bbolt, no server needed).
run:
	$(GO) run ./example

# Every test, with the race detector. Stores on servers start their own
# private servers; missing binaries skip unless HTTPSESSION_REQUIRE_SERVICES=1.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

# The comparison with scs and gorilla/sessions (bench/, a module of its
# own): private servers on 127.0.0.1, BENCH_ROUNDS interleaved rounds of the
# micro benchmarks, the end-to-end wrk load, then BENCHMARKS.md and
# bench/chart.png. About 10 minutes on 2 CPUs.
BENCH_ROUNDS ?= 5
BENCHTIME ?= 0.3s
E2E_DURATION ?= 10s
BENCH_ENV = GO=$(GO) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCHTIME=$(BENCHTIME) E2E_DURATION=$(E2E_DURATION)

bench: bench-micro bench-e2e bench-report

bench-micro:
	cd bench && $(BENCH_ENV) ./servers.sh ./micro.sh results/micro.txt

# The example app and a minimal scs server under wrk, 10 s per server and
# route (12 runs).
bench-e2e:
	cd bench && $(BENCH_ENV) ./servers.sh ./e2e.sh results/e2e.txt

bench-report:
	cd bench && $(GO) run ./cmd/report -micro results/micro.txt -e2e results/e2e.txt \
	  -load results/load.txt -analysis analysis.md -out ../BENCHMARKS.md -chart chart.png

# The root package's own benchmarks.
bench-pkg:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	$(GO) vet ./...
	test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
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
