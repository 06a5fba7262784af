#!/usr/bin/env bash
# Prod-like run without Docker: build the bundles, then run them as the image would (read-only
# root, uid 1000, tini as PID 1, 512 MiB memory limit) against the emulators and the stub model,
# and require the end-to-end flow to pass. See tools/delivery/prodlike-run.ts and docs/delivery.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  echo "prodlike: run as root (cgroup memory limit, uid mapping), or use compose.prod-like.yml with Docker" >&2
  exit 1
fi

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/tini ] || missing+=(tini)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "prodlike: installing ${missing[*]} from Debian" >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

node tools/bundle.mjs
exec node_modules/.bin/tsx tools/delivery/prodlike-run.ts
