# commentd — the targets a developer and CI run.
GO        ?= go
PKGS      := ./...
BIN       := bin/commentd

# The linter and its configuration: staticcheck, pinned, with every check on
# (style checks included).
STATICCHECK        := honnef.co/go/tools/cmd/staticcheck@v0.8.2
STATICCHECK_CHECKS := all

.PHONY: run test test-faults fuzz bench loadtest lint build services clean

## run: start commentd on 127.0.0.1:8080 with SQLite in ./data and config/commentd.yaml
run:
	$(GO) run ./cmd/commentd serve --config config/commentd.yaml

## test: every test, race detector on, against real Redis and PostgreSQL
test:
	$(GO) test -race -count=1 $(PKGS)

## test-faults: kill -9, SIGTERM, database and Redis faults against the real binary (slow)
test-faults:
	$(GO) test -race -count=1 -tags faults -run '^TestFault' -timeout 15m ./cmd/commentd/

## fuzz: each fuzz target for FUZZTIME (default 30s); findings land in testdata/fuzz
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzSubmitDecode$$' -fuzztime $(FUZZTIME) ./internal/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) ./internal/markup
	$(GO) test -run '^$$' -fuzz '^FuzzRules$$' -fuzztime $(FUZZTIME) ./internal/spam
	$(GO) test -run '^$$' -fuzz '^FuzzPatternSource$$' -fuzztime $(FUZZTIME) ./internal/spam
	$(GO) test -run '^$$' -fuzz '^FuzzEvaluate$$' -fuzztime $(FUZZTIME) ./internal/spam
	$(GO) test -run '^$$' -fuzz '^FuzzCountLinks$$' -fuzztime $(FUZZTIME) ./internal/spam
	$(GO) test -run '^$$' -fuzz '^FuzzCountLinksAgreesWithRenderer$$' -fuzztime $(FUZZTIME) ./internal/spam
	$(GO) test -run '^$$' -fuzz '^FuzzPrefilter$$' -fuzztime $(FUZZTIME) ./internal/spam

## bench: Go benchmarks of the submit path, the thread read and their parts
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## loadtest: commentd against a bare Echo baseline under vegeta, with a
## durability check (docs/performance.md); a scale run passes flags, e.g.
## make loadtest LOADTEST_FLAGS='-pages 10000 -comments 1000000 -pending 100000 -store postgres -queue'
loadtest:
	$(GO) run ./cmd/commentd-loadtest -go $(GO) $(LOADTEST_FLAGS)

## lint: formatting, vet and staticcheck (the fault tests' build tag included)
lint:
	@unformatted=$$(gofmt -l cmd config internal); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags faults ./cmd/commentd/
	$(GO) run $(STATICCHECK) -checks "$(STATICCHECK_CHECKS)" $(PKGS)
	$(GO) run $(STATICCHECK) -checks "$(STATICCHECK_CHECKS)" -tags faults ./cmd/commentd/

## build: the binary in bin/
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/commentd

clean:
	rm -rf bin data
