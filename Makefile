# sharetoken — the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
DATA_DIR ?= ./var

.PHONY: run test lint fmt build clean

## The server on its embedded default (local directory, embedded store) on 127.0.0.1:8080.
run:
	SHARETOKEN__SERVER__DATA_DIR=$(DATA_DIR) $(CARGO) run --release -- serve

## Every test: unit, integration (real server on port 0), and the lints.
test: lint
	$(CARGO) test --all-targets

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
