#!/usr/bin/env bash
# Installs the pinned Stoplight Prism (package.json / package-lock.json at the repo root) into
# <repo>/node_modules with `npm ci`. Idempotent: skipped when the pinned version is already there.
# Needs Node >= 18.20 (prism-cli 5.14.2 is the last release that runs on Node 20; 5.15+ need Node 24).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

wanted="$(node -p 'require("./package.json").dependencies["@stoplight/prism-cli"]')"
have="$(node -p 'try { require("./node_modules/@stoplight/prism-cli/package.json").version } catch (e) { "" }')"
if [[ "${have}" == "${wanted}" && -x node_modules/.bin/prism ]]; then
    echo "setup-prism: @stoplight/prism-cli ${have} already installed"
else
    echo "setup-prism: installing @stoplight/prism-cli ${wanted} (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/prism --version >/dev/null
echo "setup-prism: ok: ${repo_root}/node_modules/.bin/prism"
