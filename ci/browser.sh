#!/usr/bin/env bash
# The front-end kit in a real browser, and every sample event through the documented invoke command, against
# `make dev` (scripts/dev.sh) started here on free ports and stopped at the end.
# Installs what it needs, idempotently: Debian's chromium + chromium-driver (apt-get, when missing), selenium
# (PyPI, pinned) into .venv-tools/browser, Persona's JS client (npm ci in examples/web), cargo-lambda and moto
# (dev.sh).
# Screenshots: <target>/browser/*.png (their paths are printed). Logs: <target>/browser/dev.log.
set -euo pipefail

SELENIUM_VERSION="4.45.0"   # 4.52 needs a certifi newer than PyPI's mirror here has
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
started=$SECONDS
target="${CARGO_TARGET_DIR:-${repo_root}/target}"
[[ "${target}" = /* ]] || target="${repo_root}/${target}"
mkdir -p "${target}/browser"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "browser: installing chromium and chromium-driver (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
venv="${repo_root}/.venv-tools/browser"
[[ -x "${venv}/bin/python" ]] || "${PYTHON:-python3}" -m venv "${venv}"
if [[ "$("${venv}/bin/python" -c 'import selenium; print(selenium.__version__)' 2>/dev/null || true)" != "${SELENIUM_VERSION}" ]]; then
    echo "browser: installing selenium==${SELENIUM_VERSION} into ${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "selenium==${SELENIUM_VERSION}"
fi
if [[ ! -f examples/web/node_modules/persona/dist/persona.js ]]; then
    echo "browser: npm ci in examples/web (Persona's JS client)"
    (cd examples/web && npm ci --no-audit --no-fund --silent)
fi

free_port() { "${venv}/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export GATEWAY_PORT="$(free_port)" WATCH_PORT="$(free_port)" FAKE_PERSONA_PORT="$(free_port)"
# The guard is on (moto's table, as make dev runs it), with room for the sample events: 25 of them are one user's
# within a minute and 22 hand out sessions of one inquiry, over the default per-owner and per-inquiry budgets
# (10 each). The budgets themselves are proven by the rig's scenarios.
export REQUESTS_PER_OWNER_PER_MINUTE=100 SESSIONS_PER_INQUIRY_PER_DAY=100
log="${target}/browser/dev.log"
echo "browser: starting make dev (gateway ${GATEWAY_PORT}, watch ${WATCH_PORT}, fake Persona ${FAKE_PERSONA_PORT}); log: ${log}"
setsid ./scripts/dev.sh >"${log}" 2>&1 &
dev_pid=$!
stop() { kill -TERM -- "-${dev_pid}" 2>/dev/null || true; wait "${dev_pid}" 2>/dev/null || true; }
trap stop EXIT INT TERM
for _ in $(seq 1 1200); do
    grep -q "^dev: ready" "${log}" && break
    kill -0 "${dev_pid}" 2>/dev/null || { cat "${log}"; echo "browser: make dev stopped" >&2; exit 1; }
    sleep 0.5
done
grep -q "^dev: ready" "${log}" || { cat "${log}"; echo "browser: make dev was not ready in 10 minutes" >&2; exit 1; }
grep "^dev: ready" "${log}"

python3 tests/browser/check_events.py
SE_OFFLINE=true "${venv}/bin/python" tests/browser/journey.py
echo "browser: done in $((SECONDS - started)) s"
