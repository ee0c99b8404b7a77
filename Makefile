# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json

# Every test and bench process runs under the network guard: in a network namespace with only
# loopback, failing the run if anything tried to reach another address (docs/testing.md).
NETGUARD := test/netguard/run.sh

.PHONY: run test build lint format traffic-doc typecheck unit integration e2e adversarial chart bench bench-quick bench-parser bench-nacos deps provision clean

# `npm ci` installs exactly the committed lock file and never rewrites it, so a fresh clone stays
# clean. The lock file must be the one `npm install` settles on from a clean state (it lists every
# platform build of the optional resolver bindings); after changing package.json, run
# `npm install` and commit the lock file it writes.
$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES)

# From an empty dist/: a file left from a module that was moved would shadow its successor
# (dist/daemon.js before dist/daemon/index.js).
dist/.built: $(NODE_MODULES) $(shell find src -name '*.ts') tsconfig.json tsconfig.build.json
	rm -rf dist
	npx tsc -p tsconfig.build.json
	@touch $@

build: dist/.built

run: build
	node dist/cli.js run --config config/adapter.yaml

# Real servers and tools for the suites, cached in .cache/ (istiod: 5-10 min cold, helm: 1-2 min).
provision:
	test/servers/zookeeper/provision.sh
	test/servers/nacos/provision.sh
	test/servers/dubbo/provision.sh
	test/servers/istiod/provision.sh
	test/servers/helm/provision.sh

# ESLint (with the stage boundaries) and Prettier; `make format` rewrites what Prettier would change.
FORMATTED := "src/**/*.ts" "test/**/*.ts" "bench/**/*.{ts,mjs}" "*.mjs" jest.config.js
lint: deps
	npx eslint .
	npx prettier --check $(FORMATTED)

format: deps
	npx prettier --write $(FORMATTED)

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

unit: build
	$(NETGUARD) npx jest --selectProjects unit

integration: build provision
	$(NETGUARD) npx jest --selectProjects integration --runInBand

e2e: build provision
	$(NETGUARD) npx jest --selectProjects e2e --runInBand

# Real requests through two istiods to real Dubbo Triple providers; rewrites the table in docs/traffic.md.
traffic-doc: build provision
	UPDATE_TRAFFIC_DOC=1 $(NETGUARD) npx jest --selectProjects e2e --runInBand --testPathPatterns e2e/traffic

chart: build provision
	$(NETGUARD) npx jest --selectProjects chart

# Attacks on the daemon's own process with a real ZooKeeper (docs/security.md).
adversarial: build provision
	$(NETGUARD) npx jest --selectProjects adversarial --runInBand

# Every suite; `.ci/run` calls this and counts the results.
test: build provision
	npx tsc -p tsconfig.json --noEmit
	npx eslint .
	npx prettier --check $(FORMATTED)
	$(NETGUARD) npx jest --ci

# Benchmarks (not part of make test): write docs/performance.md and docs/performance.json.
SIZES ?= S,M,L
# Provisioned before the guard: downloads and builds need the package registries.
bench: build
	test/servers/zookeeper/provision.sh
	test/servers/istiod/provision.sh
	$(NETGUARD) npx tsx bench/run.ts --sizes=$(SIZES)

# The parser alone, on the compiled dist/ (about a minute): bench/parser.mjs.
bench-parser: build
	$(NETGUARD) node bench/parser.mjs

# The Nacos transports alone (gRPC pushes against HTTP polling, 1,000 and 10,000 services; about
# 12 minutes): bench/nacos.ts. Keeps every other row of docs/performance.md.
bench-nacos: build
	$(NETGUARD) npx tsx bench/run.ts --nacos-only

bench-quick: build
	test/servers/zookeeper/provision.sh
	test/servers/istiod/provision.sh
	$(NETGUARD) npx tsx bench/run.ts --quick

clean:
	rm -rf dist coverage
