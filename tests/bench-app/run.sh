#!/usr/bin/env bash
# `make bench-app`: seeds a local store of 100k products × 5 locations (the store's own CSV
# import, `seed-bench-store` example of smartstock-store), then runs bench.mjs against the release
# app under Xvfb with a D-Bus session and a keyring, through tauri-driver + WebKitWebDriver.
#
# Env: CARGO_TARGET_DIR (built binaries), BENCH_DIR (where the store goes; default a temp dir),
# BENCH_PRODUCTS / BENCH_LOCATIONS (default 100000 / 5), BENCH_ROUNDS, BENCH_START_RUNS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR must name the cargo target directory}
export BENCH_APP="$target/release/smartstock" BENCH_SEED="$target/release/examples/seed-bench-store"
for bin in "$BENCH_APP" "$BENCH_SEED"; do
  [ -x "$bin" ] || { echo "error: $bin is missing; run 'make bench-app' (it builds it)" >&2; exit 1; }
done
driver=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
[ -x "$driver" ] || { echo "error: tauri-driver is missing: cargo install tauri-driver --locked" >&2; exit 1; }
export BENCH_DRIVER="$driver"
command -v xdotool >/dev/null || { echo "error: xdotool is missing (it types the keys): run 'make bench-app', which installs it" >&2; exit 1; }

mkdir -p "${BENCH_DIR:-/tmp}"
work=$(mktemp -d "${BENCH_DIR:-/tmp}/smartstock-bench-app-XXXXXX")
export BENCH_WORK="$work" BENCH_OUT="$work" BENCH_DATA="$work/desktop"
"$BENCH_SEED" seed "$BENCH_DATA" "${BENCH_PRODUCTS:-100000}" "${BENCH_LOCATIONS:-5}"
# No fleet preset and no server: the app opens offline-only on the seeded ledger.
export SMARTSTOCK_DESKTOP_CONFIG="$work/no-fleet-config.json"
unset SMARTSTOCK_SERVER_URL SMARTSTOCK_USERNAME SMARTSTOCK_PASSWORD SMARTSTOCK_DATA_DIR

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export BENCH_DRIVER_PORT=$(free_port) BENCH_NATIVE_PORT=$(free_port)

cd "$here"
status=0
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -e
  trap "kill \$(jobs -p) 2>/dev/null || true" EXIT
  export XDG_DATA_HOME="$BENCH_WORK/xdg-data"
  echo -n bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  "$BENCH_DRIVER" --port "$BENCH_DRIVER_PORT" --native-port "$BENCH_NATIVE_PORT" >"$BENCH_WORK/tauri-driver.log" 2>&1 &
  node bench.mjs' || status=$?
# The seeded store is large; kept only with BENCH_KEEP=1 (or when the run failed).
if [ "$status" = 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$BENCH_DATA"; fi
echo "bench-app: screenshot and logs in $work" >&2
exit $status
