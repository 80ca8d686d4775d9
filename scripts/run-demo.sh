#!/usr/bin/env bash
# `make run`: starts smartstock-server on its embedded SQLite with a demo company (made on first
# run) and opens the desktop app signed in to it. On a machine without a display the app runs
# under Xvfb, with a D-Bus session and an unlocked keyring, and a screenshot is saved.
#
# Env: CARGO_TARGET_DIR (where the built binaries are), SMARTSTOCK_DEMO_DIR (the demo's data,
# default ~/.cache/smartstock/demo), SMARTSTOCK_DEMO_PORT (default 8443),
# SMARTSTOCK_DEMO_USER (default manager).
set -euo pipefail

target=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR must name the cargo target directory}
server="$target/debug/smartstock-server"
app="$target/debug/smartstock"
demo=${SMARTSTOCK_DEMO_DIR:-$HOME/.cache/smartstock/demo}
port=${SMARTSTOCK_DEMO_PORT:-8443}
user=${SMARTSTOCK_DEMO_USER:-manager}
for bin in "$server" "$app"; do
  [ -x "$bin" ] || { echo "error: $bin is missing; run 'make run' (it builds it)" >&2; exit 1; }
done

mkdir -p "$demo"
if [ ! -f "$demo/server.db" ]; then
  echo "Creating the demo company in $demo ..."
  "$server" --database "$demo/server.db" demo --write-tls "$demo/tls" 2>"$demo/demo.log" | tee "$demo/credentials.txt"
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "error: port $port is in use; stop what uses it or set SMARTSTOCK_DEMO_PORT" >&2
  exit 1
fi
"$server" --database "$demo/server.db" serve --listen "127.0.0.1:$port" \
  --tls-cert "$demo/tls/cert.pem" --tls-key "$demo/tls/key.pem" >"$demo/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS --cacert "$demo/tls/cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "error: the server stopped; see $demo/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "smartstock-server: https://localhost:$port (log: $demo/server.log)"
echo "Demo users:"; grep -E '^  ' "$demo/credentials.txt" || true
password=$(awk -v u="$user" '$1 == u { print $2 }' "$demo/credentials.txt")

export SMARTSTOCK_SERVER_URL="https://localhost:$port"
export SMARTSTOCK_CA_CERT="$demo/tls/cert.pem"
export SMARTSTOCK_DATA_DIR="$demo/app"
export SMARTSTOCK_USERNAME="$user" SMARTSTOCK_PASSWORD="$password"
echo "Opening SmartStock signed in as $user (its data: $SMARTSTOCK_DATA_DIR)"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$app"
  exit
fi

# Headless: a virtual screen, a D-Bus session with an unlocked keyring (the refresh token's
# home), and a screenshot once the stock table shows.
echo "No display: running under Xvfb; a screenshot goes to $demo/screenshot.png. Ctrl-C stops."
xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- bash -c '
  export XDG_DATA_HOME="$1/keyring-home"   # the demo'"'"'s own login keyring, unlocked with this password
  echo -n smartstock | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || true
  "$0" & app=$!
  sleep "${SMARTSTOCK_SCREENSHOT_AFTER:-12}"
  import -window root "$1/screenshot.png" && echo "screenshot: $1/screenshot.png"
  wait $app' "$app" "$demo"
