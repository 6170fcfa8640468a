#!/usr/bin/env bash
# The whole product locally, JWT mode (AUTH_MODE=jwt), as deployed:
#   http://127.0.0.1:${GATEWAY_PORT:-9001}  dev gateway (tests/src/dev_gateway): the four routes behind a JWT authorizer
#                                          like API Gateway's, a local token issuer (POST /dev/token, JWKS), the
#                                          front-end kit at /web/
#   http://127.0.0.1:${WATCH_PORT:-9002}    cargo lambda watch: both functions, rebuilt when the code changes
#   http://127.0.0.1:${FAKE_PERSONA_PORT:-9000}  fake Persona with demo data (alice, bob) and a hosted-flow stand-in
#   moto's DynamoDB on a free port (started by the gateway): the guard's table, created from template.yaml's
#                                          own definition; the functions get GUARD_TABLE, AWS_ENDPOINT_URL and
#                                          dummy AWS credentials, so the budgets and the create ledger are real
# Installs cargo-lambda (PyPI, pinned) when it is missing (ci/setup-cargo-lambda.sh) and moto into .venv
# (ci/setup-python.sh). The budgets keep their defaults unless set in the environment (e.g.
# REQUESTS_PER_OWNER_PER_MINUTE=0 turns the per-owner limit off). Ctrl-C stops all.
# With PERSONA_API_KEY set, the functions talk to Persona's sandbox instead of the fake.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
export GATEWAY_PORT="${GATEWAY_PORT:-9001}" WATCH_PORT="${WATCH_PORT:-9002}" FAKE_PERSONA_PORT="${FAKE_PERSONA_PORT:-9000}"
target="${CARGO_TARGET_DIR:-${repo_root}/target}"
[[ "${target}" = /* ]] || target="${repo_root}/${target}"
mkdir -p "${target}/dev"
started=$SECONDS

cargo_lambda="$(bash ci/setup-cargo-lambda.sh)"
# moto's DynamoDB serves the guard's table (the gateway starts it from .venv/bin/moto_server).
bash ci/setup-python.sh | sed 's/^/dev: /'

# The front-end kit loads Persona's JS client from examples/web/node_modules (npm, pinned by its lock file).
if [[ ! -f examples/web/node_modules/persona/dist/persona.js ]]; then
    if command -v npm >/dev/null; then
        echo "dev: npm ci in examples/web (Persona's JS client for the front-end kit)"
        (cd examples/web && npm ci --no-audit --no-fund --silent)
    else
        echo "dev: npm not found: the front-end kit will fall back to the hosted flow" >&2
    fi
fi

# One build of everything first, with cargo's progress lines (a cold build takes minutes): watch then starts
# the functions from these artifacts instead of building silently on the first request.
echo "dev: building the dev gateway and both functions (debug)…"
# Some crates (aws-lc-sys) compile for minutes without a line of their own: say so every minute.
( while sleep 60; do echo "dev: still building ($((SECONDS - started)) s)…"; done ) &
heartbeat=$!
cargo build -p integration-tests --bin dev-gateway -p issue-link -p resume-session 2>&1 \
    | grep --line-buffered -E '^\s*(Compiling|Finished|error|warning: unused)|^error' || true
kill "${heartbeat}" 2>/dev/null || true
[[ -x "${target}/debug/dev-gateway" ]] || { echo "dev: the build failed" >&2; exit 1; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

gateway_log="${target}/dev/gateway.log"
if [[ -n "${PERSONA_API_KEY:-}" ]]; then
    echo "dev: PERSONA_API_KEY is set: the functions talk to Persona (${PERSONA_API_BASE_URL:-https://api.withpersona.com/api/v1})"
    export PERSONA_API_BASE_URL="${PERSONA_API_BASE_URL:-https://api.withpersona.com/api/v1}"
    "${target}/debug/dev-gateway" serve --no-fake >"${gateway_log}" 2>&1 &
else
    export PERSONA_API_KEY="persona_sandbox_fake_key_0001"
    export PERSONA_API_BASE_URL="http://127.0.0.1:${FAKE_PERSONA_PORT}"
    export PERSONA_INQUIRY_TEMPLATE_ID="${PERSONA_INQUIRY_TEMPLATE_ID:-itmpl_DemoTemplate0001}"
    export PERSONA_HOSTED_FLOW_URL="${PERSONA_HOSTED_FLOW_URL:-http://localhost:${FAKE_PERSONA_PORT}/verify}"
    "${target}/debug/dev-gateway" serve >"${gateway_log}" 2>&1 &
fi
pids+=("$!")
# moto takes a few seconds to start, much longer on a busy machine (the gateway starts it before it listens): up to
# three minutes.
for _ in $(seq 1 900); do
    grep -q "^listening on" "${gateway_log}" 2>/dev/null && break
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.2
done
grep -q "^listening on" "${gateway_log}" || { cat "${gateway_log}"; echo "dev: the gateway did not start" >&2; exit 1; }
sed 's/^/dev: /' "${gateway_log}"

# The functions' own configuration: JWT mode, the owner claim `sub`, as the template sets them, and the guard's
# table in moto (moto accepts any credentials: these are dummies, never real ones).
export AUTH_MODE=jwt OWNER_CLAIM=sub
guard_line="$(grep -m1 '^guard: ' "${gateway_log}" || true)"
export GUARD_TABLE="$(sed -E 's/.*GUARD_TABLE=([^ ]+).*/\1/' <<<"${guard_line}")"
export AWS_ENDPOINT_URL="$(sed -E 's/.*AWS_ENDPOINT_URL=([^ ]+).*/\1/' <<<"${guard_line}")"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_SESSION_TOKEN
watch_log="${target}/dev/watch.log"
"${cargo_lambda}" lambda watch --invoke-address 127.0.0.1 --invoke-port "${WATCH_PORT}" >"${watch_log}" 2>&1 &
pids+=("$!")
# Warm up both functions (a request that never reaches Persona): watch starts them now, not on your first call.
for fn in issue-link resume-session; do
    for _ in $(seq 1 600); do
        if "${cargo_lambda}" lambda invoke --invoke-address 127.0.0.1 --invoke-port "${WATCH_PORT}" "${fn}" \
            --data-file "events/${fn}/bad.malformed-id.json" >/dev/null 2>&1; then
            break
        fi
        kill -0 "${pids[1]}" 2>/dev/null || { cat "${watch_log}"; echo "dev: cargo lambda watch stopped" >&2; exit 1; }
        sleep 1
    done
done
echo "dev: cargo lambda watch on http://127.0.0.1:${WATCH_PORT} (log: ${watch_log}; gateway log: ${gateway_log})"
echo "dev: ready in $((SECONDS - started)) s — the API on http://127.0.0.1:${GATEWAY_PORT}, the front-end kit on http://127.0.0.1:${GATEWAY_PORT}/web/"
echo "dev: try  TOKEN=\$(make token SUB=alice)"
echo "dev:      curl -s -X POST http://127.0.0.1:${GATEWAY_PORT}/me/session -H \"Authorization: Bearer \$TOKEN\""
# From here on: the gateway's request lines, the functions' logs and watch's rebuilds (hot reload) as they come.
tail -q -n 0 -f "${gateway_log}" "${watch_log}" &
pids+=("$!")
wait "${pids[1]}"
