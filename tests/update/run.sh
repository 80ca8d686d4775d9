#!/usr/bin/env bash
# `make test-update`: the desktop app's self-update end to end (issue #6).
#
# 1. Makes two signing key pairs with the Tauri CLI: the release key, and another one.
# 2. Builds version N (the current version) and N+1 as signed .deb packages (`make dist`,
#    debug profile, the release key's public key built in).
# 3. Prepares three releases of N+1 for the server's update feed: tampered (a byte of the .deb
#    changed after signing), signed with the other key, and the good one.
# 4. Installs N with dpkg and runs update.test.mjs under Xvfb with a D-Bus session through
#    tauri-driver, against smartstock-server serving the feed, which swaps the release folder
#    between the cases.
# 5. Removes the package again.
#
# Needs root or sudo (dpkg), and what `make test-update` builds first. Prints where logs and
# screenshots went.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR must name the cargo target directory}
tauri="$root/ui/node_modules/.bin/tauri"
server_bin="$target/debug/smartstock-server"
[ -x "$server_bin" ] || { echo "error: $server_bin is missing; run 'make test-update' (it builds it)" >&2; exit 1; }
driver=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
[ -x "$driver" ] || { echo "error: tauri-driver is missing: cargo install tauri-driver --locked" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

work=$(mktemp -d /tmp/smartstock-update-XXXXXX)
echo "test-update: work folder $work"
package=smart-stock   # the .deb package name (Tauri: the product name in kebab case)

# The versions: N is the app's own; N+1 its patch successor.
version_n=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$root/tauri.conf.json")
version_next=$(/usr/bin/python3 -c 'import sys; a,b,c=sys.argv[1].split("."); print(f"{a}.{b}.{int(c)+1}")' "$version_n")

# 1. Keys (no password: made for this run only).
"$tauri" signer generate --ci -p "" -w "$work/release.key" >/dev/null
"$tauri" signer generate --ci -p "" -w "$work/other.key" >/dev/null
export TAURI_SIGNING_PRIVATE_KEY="$work/release.key" TAURI_SIGNING_PRIVATE_KEY_PASSWORD=""
export SMARTSTOCK_UPDATER_PUBKEY=$(cat "$work/release.key.pub")

# 2. Builds. Each replaces the previous bundle, so copy each out at once.
bundles="$target/debug/bundle/deb"
build() { # version
  rm -f "$bundles"/SmartStock_"$1"_*.deb*
  make -C "$root" --no-print-directory dist DIST_PROFILE=debug DIST_VERSION="$1" >"$work/build-$1.log" 2>&1 \
    || { tail -30 "$work/build-$1.log" >&2; echo "error: building $1 failed; see $work/build-$1.log" >&2; exit 1; }
  mkdir -p "$work/built/$1"
  cp "$bundles"/SmartStock_"$1"_*.deb "$bundles"/SmartStock_"$1"_*.deb.sig "$work/built/$1/"
}
echo "test-update: building $version_n and $version_next (signed .deb, debug)"
build "$version_n"
build "$version_next"
deb_n=$(ls "$work/built/$version_n"/*.deb)
deb_next=$(ls "$work/built/$version_next"/*.deb)
deb_name=$(basename "$deb_next")

# 3. The releases of N+1 that the feed will offer in turn.
release() { # case
  local dir="$work/cases/$1/$version_next"
  mkdir -p "$dir"
  cp "$deb_next" "$deb_next.sig" "$dir/"
  printf 'SmartStock %s (%s build)\n\nFaster stock search; clearer sync errors.\n' "$version_next" "$1" >"$dir/notes.md"
  echo "$dir"
}
good=$(release good)
tampered=$(release tampered)
/usr/bin/python3 - "$tampered/$deb_name" <<'PY'
import sys
# Change one byte near the end of the package (inside the compressed data): the signature no
# longer matches, while the file still looks like a .deb.
with open(sys.argv[1], "r+b") as f:
    f.seek(-4096, 2)
    b = f.read(1)
    f.seek(-4096, 2)
    f.write(bytes([b[0] ^ 0xFF]))
PY
other=$(release other-key)
rm "$other/$deb_name.sig"
env -u TAURI_SIGNING_PRIVATE_KEY "$tauri" signer sign -f "$work/other.key" -p "" --app-version "$version_next" "$other/$deb_name" >/dev/null
[ -s "$other/$deb_name.sig" ] || { echo "error: signing with the other key made no signature" >&2; exit 1; }

# 4. Install N (removing any earlier copy), run the test, remove the package whatever happens.
cleanup() { $sudo dpkg -r "$package" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
$sudo dpkg -i "$deb_n" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; exit 1; }
installed=$(dpkg-query -W -f '${Version}' "$package")
[ "$installed" = "$version_n" ] || { echo "error: dpkg installed $installed, not $version_n" >&2; exit 1; }

"$server_bin" --database "$work/server.db" demo --products 20 --days 2 --write-tls "$work/tls" \
  >"$work/demo.txt" 2>"$work/demo.log"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export UPDATE_WORK="$work" UPDATE_SERVER="$server_bin" UPDATE_APP=/usr/bin/smartstock UPDATE_PACKAGE="$package"
export UPDATE_VERSION_N="$version_n" UPDATE_VERSION_NEXT="$version_next" UPDATE_FEED="$work/feed"
export UPDATE_CASE_GOOD="$good" UPDATE_CASE_TAMPERED="$tampered" UPDATE_CASE_OTHER="$other"
export UPDATE_DRIVER_PORT=$(free_port) UPDATE_NATIVE_PORT=$(free_port) UPDATE_SERVER_PORT=$(free_port)
export SMARTSTOCK_CA_CERT="$work/tls/cert.pem" NODE_EXTRA_CA_CERTS="$work/tls/cert.pem"
export SMARTSTOCK_DESKTOP_CONFIG="$work/no-fleet-config.json"
export SMARTSTOCK_SERVER_URL="https://localhost:$UPDATE_SERVER_PORT"
export SMARTSTOCK_USERNAME=manager SMARTSTOCK_PASSWORD=Demo-Manager-2026
mkdir -p "$work/screenshots"

cd "$here"
status=0
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  set -e
  trap "kill \$(jobs -p) 2>/dev/null || true" EXIT
  export XDG_DATA_HOME="$UPDATE_WORK/xdg-data"
  echo -n update | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  "'"$driver"'" --port "$UPDATE_DRIVER_PORT" --native-port "$UPDATE_NATIVE_PORT" >"$UPDATE_WORK/tauri-driver.log" 2>&1 &
  node --test --test-concurrency=1 --test-timeout=900000 update.test.mjs' || status=$?
echo "test-update: screenshots in $work/screenshots; logs in $work"
exit $status
