# SmartStock — the two commands of the README are `make run` and `make test`.
# Cargo builds go to one shared target directory (outside the clone by default so that CI and
# repeated clones reuse it); override with CARGO_TARGET_DIR=... .

SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(HOME)/.cache/smartstock/target
export CARGO_TARGET_DIR

# System packages the Rust build and tests need (Debian/Ubuntu names). PostgreSQL: the server's
# PostgreSQL backend is tested for real, on 127.0.0.1:5432 when one runs there, else on a throwaway
# cluster that scripts/with-postgres.sh starts and removes.
BUILD_PACKAGES := build-essential pkg-config ca-certificates
TEST_PACKAGES := postgresql

.PHONY: all deps test-deps run test lint test-rust bench-store bench-server bench-sync soak clean

all: test

deps:
	@scripts/ensure-packages.sh $(BUILD_PACKAGES)
	@scripts/ensure-rust.sh

## make run: the desktop app arrives with issue #5; until then this says so.
run: deps
	@echo "The SmartStock desktop app is not built yet (issue #5): 'make run' will build it, start"
	@echo "smartstock-server with a demo company and open the app. Today: 'make test' and 'make bench-store'."
	@exit 2

## make test: every check and test (formatting, clippy, Rust unit/integration/property tests,
## the server against SQLite and PostgreSQL).
test: deps test-deps lint test-rust

test-deps:
	@scripts/ensure-packages.sh $(TEST_PACKAGES)

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust:
	scripts/with-postgres.sh cargo test --workspace --locked

## make soak SEEDS=1000: the seeded whole-system simulation over many seeds (20 desktops each).
SEEDS ?= 100
soak: deps
	SIM_SEEDS=$(SEEDS) SIM_DEVICES=20 SIM_STEPS=300 cargo test --release --locked -p smartstock-system-tests --test simulation -- --nocapture

## make bench-server: server push vs raw batched inserts, and a load of 1,000 devices (release build).
bench-server: deps
	mkdir -p bench-out
	BENCH_DIR=$(CURDIR)/bench-out scripts/with-postgres.sh cargo bench -p smartstock-server --bench server --locked

## make bench-sync: the sync engine against the real server process over loopback HTTPS, vs raw
## SQLite inserts of the same rows (release build): initial pull, push, one remote apply.
bench-sync: deps
	mkdir -p bench-out
	cargo build --release --locked -p smartstock-server --bin smartstock-server
	BENCH_DIR=$(CURDIR)/bench-out SMARTSTOCK_SERVER_BIN=$(CARGO_TARGET_DIR)/release/smartstock-server cargo bench -p smartstock-system-tests --bench sync --locked

## make bench-store: the local ledger against raw SQLite baselines (release build).
bench-store: deps
	mkdir -p bench-out
	BENCH_DIR=$(CURDIR)/bench-out cargo bench -p smartstock-store --bench store --locked

clean:
	cargo clean
