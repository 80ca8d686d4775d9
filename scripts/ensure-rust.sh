#!/usr/bin/env bash
# Checks that a Rust toolchain with rustfmt and clippy is available (rustup installs the
# components when missing). The toolchain itself comes from rustup or the distribution.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found. Install Rust (rustup, or Debian's cargo package) and run again." >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
      rustup component add "$component" >/dev/null
    fi
  done
fi
