GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME ?= 30s

.PHONY: run test bench lint fuzz

# The example app on its embedded default store (bbolt, no server needed).
run:
	$(GO) run ./example

# Every test, with the race detector. Stores on servers start their own
# private servers; missing binaries skip unless HTTPSESSION_REQUIRE_SERVICES=1.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	$(GO) vet ./...
	test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	$(STATICCHECK) ./...

# Each fuzz target for FUZZTIME (go test allows one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done
