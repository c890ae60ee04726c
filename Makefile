# sharetoken — the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
# `cargo install` puts the test tools here.
export PATH := $(HOME)/.cargo/bin:$(PATH)
DATA_DIR ?= ./var

.PHONY: run test test-deps lint fmt build bench fuzz clean

## The server on its embedded default (local directory, embedded store) on 127.0.0.1:8080.
run:
	SHARETOKEN__SERVER__DATA_DIR=$(DATA_DIR) $(CARGO) run --release -- serve

## Every test: unit, integration (real servers on free ports), and the lints.
## Installs what the tests start if it is missing (redis-server, redis-cli).
test: test-deps lint
	$(CARGO) test --all-targets --no-fail-fast

## Tools the test harness starts on free ports: Redis (single and cluster)
## and the S3 test server s3s-fs (newer versions need a newer compiler);
## Debian's chromium for the browser tests (tests/api/browser.rs); and
## schemathesis and REDbot from PyPI (tests/conformance.rs).
S3S_FS_VERSION ?= 0.14.1
SCHEMATHESIS_VERSION ?= 4.32.5
REDBOT_VERSION ?= 2.7.1
test-deps:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  echo "installing redis-server (Debian package) for the tests"; \
	  SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package) for the browser tests"; \
	  SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v schemathesis >/dev/null && command -v redbot >/dev/null || { \
	  echo "installing schemathesis and redbot (PyPI) for the conformance tests"; \
	  python3 -m pip install --quiet schemathesis==$(SCHEMATHESIS_VERSION) redbot==$(REDBOT_VERSION); }
	@command -v s3s-fs >/dev/null || { \
	  echo "installing s3s-fs $(S3S_FS_VERSION) (cargo install) for the tests"; \
	  $(CARGO) install --locked s3s-fs@$(S3S_FS_VERSION) --features binary; }

## sharetoken against nginx secure_link and the storage itself; writes BENCHMARKS.md.
bench:
	mkdir -p target
	$(CARGO) bench --bench micro -- --warm-up-time 1 --measurement-time 1 --noplot | tee target/micro-bench.txt
	python3 benches/bench.py

## Each fuzz target for FUZZ_SECONDS (libFuzzer through cargo fuzz). The
## machine's one toolchain is stable: RUSTC_BOOTSTRAP lets cargo fuzz pass
## the sanitizer flags it needs. A crash input lands in
## fuzz/artifacts/<target>/; once fixed, keep it in fuzz/regressions/<target>/
## (tests/fuzz_regressions.rs replays it in `make test`).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := token_open key_and_scope range mint_body view_query
fuzz:
	@command -v cargo-fuzz >/dev/null || { \
	  echo "installing cargo-fuzz (cargo install)"; \
	  $(CARGO) install --locked cargo-fuzz; }
	set -e; for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$target fuzz/corpus/$$target fuzz/seeds/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=4096; \
	done

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --release

clean:
	$(CARGO) clean
	rm -rf $(DATA_DIR)
