#!/usr/bin/env bash
# Checks that Node.js (>= 20.19, what Vite 8 needs) and npm are present; installs Debian's
# packages when they are missing and says what to do when the installed Node.js is too old.
set -euo pipefail
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  "$(dirname "$0")/ensure-packages.sh" nodejs npm
fi
version=$(node -p 'process.versions.node')
IFS=. read -r major minor _ <<<"$version"
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  echo "error: Node.js $version is too old for the UI build (Vite 8 needs 20.19 or newer);" >&2
  echo "       install a newer Node.js (e.g. your distribution's backports) and run make again" >&2
  exit 1
fi
