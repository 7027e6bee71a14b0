# omnitriage: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
DEVDB := internal/devdb/devdb.sh
CHROMIUM_SH := internal/devdb/chromium.sh
BIN := bin/omnitriage
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LISTEN_ADDR ?= :8080
export LISTEN_ADDR
SIMULATE ?= 1
SIM_RATE ?= 3
DEMO_RATE ?= 8

.PHONY: help build run demo test test-go vet bench fuzz db db-stop db-reset db-status clean screenshots

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
	export CLUSTER_SCHEDULE="$${CLUSTER_SCHEDULE:-@every 1m}" && \
	mkdir -p .data && \
	./$(BIN) seed --keys-file .data/demo-keys.env --logins-file .data/demo-logins.txt >/dev/null && \
	echo && echo "omnitriage: DATABASE_URL=$$url" && \
	echo "omnitriage: open http://localhost:$${LISTEN_ADDR##*:}/login to work the review queue (demo logins below); the API is under /v1 (see README), /readyz says when it is up" && \
	if [ -f .data/demo-keys.env ]; then echo "omnitriage: demo API keys (from .data/demo-keys.env):"; sed 's/^/    /' .data/demo-keys.env; fi && \
	if [ -f .data/demo-logins.txt ]; then echo "omnitriage: demo logins for http://localhost:$${LISTEN_ADDR##*:}/login (from .data/demo-logins.txt):"; sed 's/^/    /' .data/demo-logins.txt; fi && \
	echo "omnitriage: demo time scale $$DEMO_TIME_SCALE (2880: a simulated day passes in 30 s; DEMO_TIME_SCALE=1 for real time)" && \
	echo "omnitriage: root-cause clustering runs $$CLUSTER_SCHEDULE (CLUSTER_SCHEDULE; the production default is @hourly)" && \
	echo && \
	simday="$$(awk -v s="$$DEMO_TIME_SCALE" 'BEGIN { if (s + 0 < 1) s = 1; printf "%gs", 86400 / s }')" && \
	if [ "$(SIMULATE)" != 0 ] && [ -f .data/demo-keys.env ]; then \
		( . ./.data/demo-keys.env && exec ./$(BIN) simulate --url "http://127.0.0.1:$${LISTEN_ADDR##*:}" --key "$$OMNITRIAGE_ORCHESTRATOR_KEY" \
			--rate $(SIM_RATE) --day "$$simday" --wait 3m ) >.data/simulate.log 2>&1 & \
		sim=$$!; trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
		echo "omnitriage: simulated traffic ($(SIM_RATE) orders/s, a simulated day every $$simday to match the time scale) starts once the server is ready; log in .data/simulate.log." && \
		echo "omnitriage: it stops with the server; SIMULATE=0 make run serves without it." && echo; \
	fi; \
	./$(BIN) serve

demo: ## make run with livelier simulated traffic; prints the URLs and demo keys
	@echo "omnitriage demo: the API on http://localhost:$${LISTEN_ADDR##*:}/v1, review queue /review (sign in at /login), metrics /metrics"
	@$(MAKE) --no-print-directory run SIMULATE=1 SIM_RATE=$(DEMO_RATE)

vet: ## go vet
	$(GO) vet ./...

test: ## start the database (and install Chromium for the browser tests), then vet and run every test against it
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	chrome="$$($(CHROMIUM_SH) ensure)" && export CHROMIUM="$$chrome" && \
	$(GO) vet ./... && \
	$(GO) test -count=1 -p 2 -timeout 14m ./...

bench: build ## benchmarks against the local database
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...
	@DATABASE_URL="$$($(DEVDB) ensure)" ./$(BIN) bench
	@DATABASE_URL="$$($(DEVDB) ensure)" ./$(BIN) bench-recommend

screenshots: ## save PNGs of the review pages (headless Chromium) in docs/screenshots
	@url="$$($(DEVDB) ensure)" && export DATABASE_URL="$$url" && \
	chrome="$$($(CHROMIUM_SH) ensure)" && export CHROMIUM="$$chrome" && \
	mkdir -p docs/screenshots && export SCREENSHOTS="$(CURDIR)/docs/screenshots" && \
	$(GO) test -count=1 -run 'Screenshot|TestDemoBrowser' ./review/... ./cmd/omnitriage/ && \
	ls -1 docs/screenshots/*.png

# A target fails only when it writes a failing input (testdata/fuzz/TARGET/).
# Go 1.26's fuzz coordinator can end a clean run with "context deadline
# exceeded" and no input when a worker is slow at the deadline (a loaded
# machine; golang/go#75804, fixed in Go 1.27): that run is repeated once.
fuzz: ## run each fuzz target for FUZZTIME (default 60s)
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -n1 | xargs dirname); \
		for try in 1 2; do \
			echo "== $$t ($$pkg)"; \
			before=$$(ls $$pkg/testdata/fuzz/$$t 2>/dev/null | wc -l); \
			if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-60s} $$pkg >.fuzz.log 2>&1; then tail -n 3 .fuzz.log; break; fi; \
			cat .fuzz.log; \
			after=$$(ls $$pkg/testdata/fuzz/$$t 2>/dev/null | wc -l); \
			if [ "$$after" != "$$before" ] || ! grep -q 'context deadline exceeded' .fuzz.log || [ $$try = 2 ]; then rm -f .fuzz.log; exit 1; fi; \
			echo "fuzz: $$t ended with the coordinator's deadline race and no failing input (golang/go#75804); running it again"; \
		done; \
	done; rm -f .fuzz.log

clean: ## remove build output (not the database: see db-reset)
	rm -rf bin
