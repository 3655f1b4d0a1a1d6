# Two commands for a new user:  `make demo`  and  `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bootstrap frontend install postgres test-static test-cpp test-sanitizers test-asan test-tsan fuzz-build test-fuzz fuzz-long \
	test-oracles test-frontend test-python test-e2e bench bench-quick clean

demo: install
	$(VENV)/bin/expstream demo

test: install test-static test-cpp test-sanitizers test-fuzz test-oracles test-frontend test-python test-e2e bench-quick

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

# The C++ core and its whole GoogleTest suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (preset asan, build/asan) and ThreadSanitizer (preset tsan, build/tsan), with g++. Every report is
# fatal (-fno-sanitize-recover=all, halt_on_error), so one fails the run. Under TSan the concurrent
# suites (registry, runtime, ready queue, scale-out) run TSAN_REPEAT more times. TSan needs a narrow
# address-space layout: when the kernel randomises mmap with many bits (vm.mmap_rnd_bits=32) it aborts
# with "unexpected memory mapping", so it runs under `setarch -R` (no ASLR) where that is allowed.
# About 7 min from clean build dirs on 2 cores, seconds to run.
ASAN_OPTIONS_TEST := halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1
UBSAN_OPTIONS_TEST := halt_on_error=1:print_stacktrace=1
TSAN_OPTIONS_TEST := halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
TSAN_CONCURRENT := Registry*:Runtime*:ReadyQueue*:Notifier*:ScaleOut*
TSAN_REPEAT ?= 3
NO_ASLR = $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)

test-sanitizers: test-asan test-tsan

test-asan: postgres
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ASAN_OPTIONS=$(ASAN_OPTIONS_TEST) UBSAN_OPTIONS=$(UBSAN_OPTIONS_TEST) build/asan/expstream_tests

test-tsan: postgres
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan
	TSAN_OPTIONS=$(TSAN_OPTIONS_TEST) $(NO_ASLR) build/tsan/expstream_tests
	TSAN_OPTIONS=$(TSAN_OPTIONS_TEST) $(NO_ASLR) build/tsan/expstream_tests \
	  --gtest_filter='$(TSAN_CONCURRENT)' --gtest_repeat=$(TSAN_REPEAT) --gtest_brief=1

# libFuzzer (clang-14, ASan + UBSan) on the client-message parser, the snapshot writer and the
# change-notice round trip (cpp/fuzz; preset fuzz, build/fuzz): each target replays its corpus in
# cpp/fuzz/corpus/<target> and then fuzzes for FUZZ_SECONDS. New inputs go to build/fuzz/corpus
# only; a crash (a sanitizer report or a failed check) is saved as build/fuzz/artifacts/<target>-crash-*
# and fails the run; reproduce it with `build/fuzz/cpp/fuzz/<target> <file>`.
FUZZ_TARGETS := fuzz_client_message fuzz_snapshot fuzz_notice
FUZZ_SECONDS ?= 20
FUZZ_FLAGS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

fuzz-build: bootstrap
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz

test-fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t build/fuzz/artifacts; \
	  dict=; [ ! -f cpp/fuzz/$$t.dict ] || dict=-dict=cpp/fuzz/$$t.dict; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  UBSAN_OPTIONS=$(UBSAN_OPTIONS_TEST) build/fuzz/cpp/fuzz/$$t $(FUZZ_FLAGS) $$dict \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/artifacts/$$t- \
	    build/fuzz/corpus/$$t cpp/fuzz/corpus/$$t 2>build/fuzz/$$t.log \
	    || { tail -n 60 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' build/fuzz/$$t.log; \
	done

# The long run, by hand: FUZZ_LONG_SECONDS (10 min) per target, then the inputs that add coverage
# are merged back into cpp/fuzz/corpus/<target> (commit them; keep the corpus small).
FUZZ_LONG_SECONDS ?= 600
fuzz-long: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus-long/$$t build/fuzz/artifacts; \
	  dict=; [ ! -f cpp/fuzz/$$t.dict ] || dict=-dict=cpp/fuzz/$$t.dict; \
	  echo "== $$t: $(FUZZ_LONG_SECONDS) s"; \
	  UBSAN_OPTIONS=$(UBSAN_OPTIONS_TEST) build/fuzz/cpp/fuzz/$$t $(FUZZ_FLAGS) $$dict \
	    -max_total_time=$(FUZZ_LONG_SECONDS) -artifact_prefix=build/fuzz/artifacts/$$t- \
	    build/fuzz/corpus-long/$$t cpp/fuzz/corpus/$$t 2>build/fuzz/$$t-long.log \
	    || { tail -n 60 build/fuzz/$$t-long.log; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' build/fuzz/$$t-long.log; \
	  build/fuzz/cpp/fuzz/$$t -merge=1 cpp/fuzz/corpus/$$t build/fuzz/corpus-long/$$t 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true; \
	done; du -sh cpp/fuzz/corpus

# The C++ statistics' golden values must still be what gbstats / statsmodels / scipy say. gbstats
# pins numpy<2 and pandas<2, so the oracles get a virtualenv of their own.
test-oracles:
	[ -x .venv-oracles/bin/python ] || python3 -m venv .venv-oracles
	.venv-oracles/bin/python -m pip install -q 'gbstats==0.8.0' statsmodels scipy
	.venv-oracles/bin/python -W ignore cpp/tests/golden/make_stats_golden.py --check

# Static checks, all at zero: mypy --strict (with the core's _core.pyi), ruff's lint and format,
# and the dashboard's tsc + ESLint.
test-static: install
	$(VENV)/bin/mypy python/expstream
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd frontend && npm run check

test-frontend: bootstrap
	cd frontend && npm test

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
