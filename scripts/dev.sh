#!/usr/bin/env bash
# Runs both functions locally: `cargo lambda watch` on http://127.0.0.1:${WATCH_PORT:-9001}, in front of the fake
# Persona with its demo data on port ${FAKE_PERSONA_PORT:-9000} — or of Persona's sandbox when PERSONA_API_KEY is
# set. Installs cargo-lambda (PyPI, pinned) when it is missing (ci/setup-cargo-lambda.sh). Ctrl-C stops all.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
watch_port="${WATCH_PORT:-9001}"
fake_port="${FAKE_PERSONA_PORT:-9000}"

cargo_lambda="$(bash ci/setup-cargo-lambda.sh)"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [[ -n "${PERSONA_API_KEY:-}" ]]; then
    echo "dev: PERSONA_API_KEY is set: talking to Persona (${PERSONA_API_BASE_URL:-https://api.withpersona.com/api/v1})"
    export PERSONA_API_BASE_URL="${PERSONA_API_BASE_URL:-https://api.withpersona.com/api/v1}"
else
    cargo build --quiet -p integration-tests --bin fake-persona
    log="${repo_root}/target/fake-persona.log"
    "${repo_root}/target/debug/fake-persona" --port "${fake_port}" --seed >"${log}" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 100); do
        grep -q "listening on" "${log}" 2>/dev/null && break
        sleep 0.2
    done
    grep -q "listening on" "${log}" || { cat "${log}"; echo "dev: the fake Persona did not start" >&2; exit 1; }
    echo "dev: fake Persona on http://127.0.0.1:${fake_port} (log: ${log})"
    export PERSONA_API_KEY="persona_sandbox_fake_key_0001"
    export PERSONA_API_BASE_URL="http://127.0.0.1:${fake_port}"
    export PERSONA_INQUIRY_TEMPLATE_ID="${PERSONA_INQUIRY_TEMPLATE_ID:-itmpl_DemoTemplate0001}"
fi

# watch sends no authorizer claims: IAM mode (trusted caller, no ownership check). Never weaken jwt mode instead.
export AUTH_MODE=iam
echo "dev: serving issue-link and resume-session on http://127.0.0.1:${watch_port} — try:"
echo "  curl -s -X POST http://127.0.0.1:${watch_port}/inquiries/inq_DemoPending0001/one-time-link"
"${cargo_lambda}" lambda watch --invoke-address 127.0.0.1 --invoke-port "${watch_port}" &
pids+=("$!")
wait "${pids[-1]}"
