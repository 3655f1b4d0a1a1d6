# Two commands for a new user:  `make demo`  and  `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bootstrap frontend install test-cpp test-oracles test-frontend test-python clean

demo: install
	$(VENV)/bin/expstream demo

test: install test-cpp test-oracles test-frontend test-python

bootstrap:
	./scripts/bootstrap.sh

# The dashboard is built first so that `pip install .` bundles it into the package.
frontend: bootstrap
	cd frontend && npm run build

install: frontend
	$(PY) -m pip install -q '.[test]'

test-cpp: bootstrap
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

test-python: install
	./scripts/ensure-test-postgres.sh
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build frontend/out frontend/.next
