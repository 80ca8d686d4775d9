#!/usr/bin/env bash
# Runs the desktop app's end-to-end tests (app.test.mjs): the real app (built by `make app`) under
# Xvfb with a D-Bus session, an unlocked GNOME keyring (where the refresh token lives), a fake
# notification daemon (python3-dbusmock) that logs every Notify call, and tauri-driver +
# WebKitWebDriver; against a real smartstock-server with a small demo company, which the test
# stops and starts to take the desktops offline.
#
# Env: CARGO_TARGET_DIR (built binaries). Prints where the screenshots went.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR must name the cargo target directory}
export E2E_APP="$target/debug/smartstock" E2E_SERVER="$target/debug/smartstock-server"
for bin in "$E2E_APP" "$E2E_SERVER"; do
  [ -x "$bin" ] || { echo "error: $bin is missing; run 'make test-e2e' (it builds it)" >&2; exit 1; }
done
driver=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
[ -x "$driver" ] || { echo "error: tauri-driver is missing: cargo install tauri-driver --locked" >&2; exit 1; }
export E2E_DRIVER="$driver"

work=$(mktemp -d /tmp/smartstock-e2e-XXXXXX)
export E2E_WORK="$work" E2E_SHOTS="${E2E_SHOTS:-$work/screenshots}"
mkdir -p "$E2E_SHOTS"
"$E2E_SERVER" --database "$work/server.db" demo --products 60 --days 5 --write-tls "$work/tls" \
  >"$work/demo.txt" 2>"$work/demo.log"
# The app trusts the demo server's certificate; node's fetch (the test's own checks) too.
export SMARTSTOCK_CA_CERT="$work/tls/cert.pem" NODE_EXTRA_CA_CERTS="$work/tls/cert.pem"
export SMARTSTOCK_DESKTOP_CONFIG="$work/no-fleet-config.json"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export E2E_DRIVER_PORT=$(free_port) E2E_NATIVE_PORT=$(free_port)

cd "$here"
status=0
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -e
  trap "kill \$(jobs -p) 2>/dev/null || true" EXIT
  export XDG_DATA_HOME="$E2E_WORK/xdg-data"   # a fresh login keyring, unlocked with this password
  echo -n e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  /usr/bin/python3 -m dbusmock --session --template notification_daemon -l "$E2E_WORK/notify.log" \
    >"$E2E_WORK/dbusmock.out" 2>&1 &
  sleep 2
  "$E2E_DRIVER" --port "$E2E_DRIVER_PORT" --native-port "$E2E_NATIVE_PORT" >"$E2E_WORK/tauri-driver.log" 2>&1 &
  node --test --test-concurrency=1 --test-timeout=900000 app.test.mjs' || status=$?
echo "e2e: screenshots in $E2E_SHOTS; logs in $work"
exit $status
