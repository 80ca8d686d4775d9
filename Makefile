# SmartStock — the two commands of the README are `make run` and `make test`.
# Cargo builds go to one shared target directory (outside the clone by default so that CI and
# repeated clones reuse it); override with CARGO_TARGET_DIR=... .

SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(HOME)/.cache/smartstock/target
export CARGO_TARGET_DIR

# System packages (Debian/Ubuntu names). The desktop app builds against WebKitGTK; its tests run it
# under Xvfb with a D-Bus session, a keyring, a fake notification daemon and WebKitWebDriver.
# PostgreSQL: the server's PostgreSQL backend is tested for real, on 127.0.0.1:5432 when one runs
# there, else on a throwaway cluster that scripts/with-postgres.sh starts and removes.
BUILD_PACKAGES := build-essential pkg-config ca-certificates curl libssl-dev libwebkit2gtk-4.1-dev \
	libayatana-appindicator3-dev librsvg2-dev libxdo-dev libsecret-1-dev libdbus-1-dev
RUN_PACKAGES := xvfb xauth dbus-x11 gnome-keyring keyutils libnotify-bin imagemagick
TEST_PACKAGES := postgresql webkit2gtk-driver python3-dbusmock libsecret-tools sudo $(RUN_PACKAGES)
# make bench-app types on the keyboard (real X key events).
BENCH_PACKAGES := xdotool

TAURI := ui/node_modules/.bin/tauri

.PHONY: all deps test-deps ui-deps ui app run test lint test-ui test-rust test-e2e e2e-deps bindings \
	dist test-update bench-store bench-server bench-sync soak clean

all: test

deps:
	@scripts/ensure-packages.sh $(BUILD_PACKAGES)
	@scripts/ensure-rust.sh
	@scripts/ensure-node.sh

## ui-deps: the UI's npm packages, exactly as package-lock.json says (npm ci), when they changed.
ui-deps: ui/node_modules/.package-lock.json
ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## ui: the UI bundle in ui/dist (the app embeds it at compile time).
ui: ui-deps
	cd ui && npm run --silent build

## app: the desktop app, built by the Tauri CLI (debug, not bundled) so that it serves ui/dist.
app: deps ui
	$(TAURI) build --debug --no-bundle --ci

## make run: builds the server and the app, starts the server with a demo company and opens the
## app signed in (under Xvfb when there is no display).
run: deps app
	scripts/ensure-packages.sh $(RUN_PACKAGES)
	cargo build --locked -p smartstock-server
	scripts/run-demo.sh

## make test: every check and test: formatting, clippy, the UI's type check, lint and component
## tests, every Rust test (the server against SQLite and PostgreSQL, the whole-system tests), and
## the desktop app end to end.
test: deps test-deps lint test-ui test-rust test-e2e

test-deps:
	@scripts/ensure-packages.sh $(TEST_PACKAGES)

lint: ui
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-ui: ui-deps
	cd ui && npm run --silent check && npm run --silent lint && npm run --silent test

test-rust: ui
	keyctl session - scripts/with-postgres.sh cargo test --workspace --locked

## test-e2e: the desktop app end to end (tests/e2e): the Tauri CLI build under Xvfb, driven by
## tauri-driver + WebKitWebDriver against a real smartstock-server; screenshots of the main screens.
test-e2e: deps test-deps app e2e-deps
	cargo build --locked -p smartstock-server
	tests/e2e/run.sh

e2e-deps: tests/e2e/node_modules/.package-lock.json
	@command -v tauri-driver >/dev/null || [ -x "$(HOME)/.cargo/bin/tauri-driver" ] || \
		cargo install tauri-driver --locked --version 2.1.0
tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## make dist: the signed .deb and its updater artifacts in $CARGO_TARGET_DIR/<profile>/bundle/deb/
## (release; DIST_PROFILE=debug for a quick one; DIST_VERSION=x.y.z overrides the version). Needs
## TAURI_SIGNING_PRIVATE_KEY (+ _PASSWORD) and SMARTSTOCK_UPDATER_PUBKEY (the matching public key,
## built into the app): `tauri signer generate` makes a pair. Copy the .deb and its .sig into a
## release folder of the server's --updates-dir (one sub-folder per version). The app refuses an
## update whose signature does not verify or was made for another version (requireSignedVersion).
DIST_PROFILE ?= release
DIST_VERSION ?=
comma := ,
dist: deps ui
	@[ -n "$$TAURI_SIGNING_PRIVATE_KEY" ] || { echo "error: set TAURI_SIGNING_PRIVATE_KEY (tauri signer generate)" >&2; exit 1; }
	@[ -n "$$SMARTSTOCK_UPDATER_PUBKEY" ] || { echo "error: set SMARTSTOCK_UPDATER_PUBKEY to the matching public key" >&2; exit 1; }
	$(TAURI) build --ci --bundles deb $(if $(filter debug,$(DIST_PROFILE)),--debug) --config \
		'{$(if $(DIST_VERSION),"version":"$(DIST_VERSION)"$(comma))"bundle":{"active":true,"createUpdaterArtifacts":true},"plugins":{"updater":{"pubkey":"'"$$SMARTSTOCK_UPDATER_PUBKEY"'","requireSignedVersion":true}}}'

## make test-update: the self-update end to end (tests/update): builds versions N and N+1 as
## signed .deb (debug) with a key made for the test, installs N with dpkg, runs it under Xvfb
## through tauri-driver against a local server's update feed; a tampered artifact and one signed
## with another key are refused and N keeps running; N+1 installs, the app restarts into it.
## Installs the package system-wide (root or sudo) and removes it at the end.
test-update: deps test-deps ui e2e-deps
	cargo build --locked -p smartstock-server
	tests/update/run.sh

## bindings: regenerate the UI's TypeScript types from the Rust types (commit the result).
bindings:
	UPDATE_BINDINGS=1 cargo test --locked -p smartstock --test ipc_bindings

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

## make bench-app: the release desktop app (Tauri CLI build) on a local store of 100k products ×
## 5 locations, under Xvfb through tauri-driver + WebKitWebDriver: filter per keystroke (p50/p99,
## vs a raw rusqlite query of the same filter on the same file), start to rows, RSS, binary size.
.PHONY: bench-app
bench-app: deps test-deps ui e2e-deps
	@scripts/ensure-packages.sh $(BENCH_PACKAGES)
	$(TAURI) build --no-bundle --ci
	cargo build --release --locked -p smartstock-store --example seed-bench-store
	mkdir -p bench-out
	BENCH_DIR=$(CURDIR)/bench-out tests/bench-app/run.sh

clean:
	cargo clean
