# omnitriage: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
DEVDB := internal/devdb/devdb.sh
BIN := bin/omnitriage
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LISTEN_ADDR ?= :8080
export LISTEN_ADDR

.PHONY: help build run test test-go vet bench fuzz db db-stop db-reset db-status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/omnitriage
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/omnitriage

db: ## install and start the local PostgreSQL + pgvector; print its DATABASE_URL
	@$(DEVDB) ensure

db-stop: ## stop the local PostgreSQL
	@$(DEVDB) stop

db-reset: ## stop the local PostgreSQL and delete its data
	@$(DEVDB) reset

db-status: ## say where the local PostgreSQL lives and whether it runs
	@$(DEVDB) status

run: build ## start the database, migrate, seed the demo on first run, and serve on :8080 at the demo time scale
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	export DEMO_TIME_SCALE="$${DEMO_TIME_SCALE:-2880}" && \
	mkdir -p .data && \
	./$(BIN) seed --keys-file .data/demo-keys.env >/dev/null && \
	echo && echo "omnitriage: DATABASE_URL=$$url" && \
	echo "omnitriage: open http://localhost:$${LISTEN_ADDR##*:}/readyz (API under /v1; see README)" && \
	if [ -f .data/demo-keys.env ]; then echo "omnitriage: demo API keys (from .data/demo-keys.env):"; sed 's/^/    /' .data/demo-keys.env; fi && \
	echo "omnitriage: demo time scale $$DEMO_TIME_SCALE (2880: a simulated day passes in 30 s; DEMO_TIME_SCALE=1 for real time)" && \
	echo && exec ./$(BIN) serve

vet: ## go vet
	$(GO) vet ./...

test: ## start the database, then vet and run every test against it
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	$(GO) vet ./... && \
	$(GO) test -count=1 -p 2 -timeout 14m ./...

bench: build ## benchmarks against the local database
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...
	@DATABASE_URL="$$($(DEVDB) ensure)" ./$(BIN) bench
	@DATABASE_URL="$$($(DEVDB) ensure)" ./$(BIN) bench-recommend

fuzz: ## run each fuzz target for FUZZTIME (default 60s)
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -n1 | xargs dirname); \
		echo "== $$t ($$pkg)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-60s} $$pkg || exit 1; \
	done

clean: ## remove build output (not the database: see db-reset)
	rm -rf bin
