#!/usr/bin/env python3
"""Adds lock entries for the Tauri CLI's platform packages the package registry mirror here does
not serve (it holds only the Linux glibc builds), so that `npm ci` finds package.json and
package-lock.json in sync. The entries carry the platform (os, cpu, libc) from the package name;
npm skips them on any other platform, so nothing is fetched for them here. Run after regenerating
ui/package-lock.json: scripts/lock-platform-packages.py ui/package-lock.json"""
import json
import sys

PLATFORMS = {
    "darwin-arm64": (["darwin"], ["arm64"], None),
    "darwin-x64": (["darwin"], ["x64"], None),
    "linux-arm-gnueabihf": (["linux"], ["arm"], ["glibc"]),
    "linux-arm64-gnu": (["linux"], ["arm64"], ["glibc"]),
    "linux-arm64-musl": (["linux"], ["arm64"], ["musl"]),
    "linux-riscv64-gnu": (["linux"], ["riscv64"], ["glibc"]),
    "linux-x64-gnu": (["linux"], ["x64"], ["glibc"]),
    "linux-x64-musl": (["linux"], ["x64"], ["musl"]),
    "win32-arm64-msvc": (["win32"], ["arm64"], None),
    "win32-ia32-msvc": (["win32"], ["ia32"], None),
    "win32-x64-msvc": (["win32"], ["x64"], None),
}

path = sys.argv[1]
lock = json.load(open(path))
packages = lock["packages"]
cli = packages["node_modules/@tauri-apps/cli"]
added = []
for name, version in cli.get("optionalDependencies", {}).items():
    key = f"node_modules/{name}"
    if key in packages:
        continue
    platform = name.rsplit("cli-", 1)[1]
    os_, cpu, libc = PLATFORMS[platform]
    entry = {"version": version, "cpu": cpu, "dev": True}
    if libc:
        entry["libc"] = libc
    entry.update({"license": cli.get("license"), "optional": True, "os": os_, "engines": {"node": ">= 10"}})
    packages[key] = entry
    added.append(name)
lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
with open(path, "w") as f:
    json.dump(lock, f, indent=2)
    f.write("\n")
print(f"added {len(added)} platform entries: {', '.join(added) or 'none'}")
