# Two commands for a new user:  `make demo`  and  `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bootstrap frontend install postgres test-cpp test-oracles test-frontend test-python test-e2e bench bench-quick clean

demo: install
	$(VENV)/bin/expstream demo

test: install test-cpp test-oracles test-frontend test-python test-e2e bench-quick

bootstrap:
	./scripts/bootstrap.sh

# The dashboard is built first so that `pip install .` bundles it into the package.
frontend: bootstrap
	cd frontend && npm run build

install: frontend
	$(PY) -m pip install -q '.[test]'

test-cpp: postgres
	cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/cpp -j2
	ctest --test-dir build/cpp --output-on-failure

# The C++ statistics' golden values must still be what gbstats / statsmodels / scipy say. gbstats
# pins numpy<2 and pandas<2, so the oracles get a virtualenv of their own.
test-oracles:
	[ -x .venv-oracles/bin/python ] || python3 -m venv .venv-oracles
	.venv-oracles/bin/python -m pip install -q 'gbstats==0.8.0' statsmodels scipy
	.venv-oracles/bin/python -W ignore cpp/tests/golden/make_stats_golden.py --check

test-frontend: bootstrap
	cd frontend && npm run typecheck && npm test

postgres: install
	./scripts/ensure-test-postgres.sh

test-python: install postgres
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium driven by playwright-core against the real server; screenshots in test-artifacts/e2e/.
test-e2e: install postgres
	cd frontend && npm run e2e

# Every benchmark with its peers, ~20 min: bench/results/latest.json and the tables in BENCHMARKS.md.
bench: install postgres
	./bench/run.sh

# Every benchmark workload once at small N (~30 s) so they never rot; fails when one breaks,
# asserts nothing about speed.
bench-quick: install postgres
	./bench/run.sh --quick

clean:
	rm -rf build bench/build frontend/out frontend/.next
