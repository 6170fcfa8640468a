#!/usr/bin/env bash
# Fuzzes our own API against openapi.yaml with Schemathesis: both functions served by `cargo lambda watch`
# (AUTH_MODE=iam: watch sends no authorizer claims), the fake Persona with its demo data behind them.
#
#   ci/schemathesis.sh            # from anywhere; exits non-zero on any failure
#
# Covers the two /inquiries/{inquiry_id}/... routes (the JWT-only /me routes are covered by the rig's own
# driver, which can inject claims: the scenarios of tests/src/scenarios/, whose every answer is checked against
# openapi.yaml too). Checks: not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance, negative_data_rejection.
# Not used: unsupported_method (watch's router answers non-POST methods with its own 404, as API Gateway does
# for routes declared POST-only; the functions' own 405 is covered by the scenarios), positive_data_acceptance
# (a valid id of an unknown inquiry is rightly 404), the auth checks (IAM mode; SigV4 is API Gateway's job).
#
# Prerequisites: cargo, python3 (>= 3.9, with venv), network access to PyPI on the first run. Installs, when
# missing: Schemathesis and openapi-spec-validator (pinned below) into .venv-tools/schemathesis, and
# cargo-lambda (pinned) when none is found (ci/setup-cargo-lambda.sh).
# Builds the fake Persona and both functions (debug) in the workspace's target dir.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 250, per operation), SCHEMATHESIS_SEED (default: random,
# printed by Schemathesis for reproduction), SCHEMATHESIS_REPORT_DIR (default target/schemathesis: JUnit XML
# and the logs of the fake and of watch).
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
API_KEY="persona_sandbox_fake_key_0001"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
python="${PYTHON:-python3}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-250}"
report_dir="${SCHEMATHESIS_REPORT_DIR:-${repo_root}/target/schemathesis}"
mkdir -p "${report_dir}"

log() { echo "schemathesis.sh: $*" >&2; }

# --- tools ---------------------------------------------------------------------------------------------------
venv="${repo_root}/.venv-tools/schemathesis"
if [[ ! -x "${venv}/bin/python" ]]; then
    log "creating ${venv}"
    "${python}" -m venv "${venv}"
fi
have_st="$("${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
have_osv="$("${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null || true)"
if [[ "${have_st}" != "${SCHEMATHESIS_VERSION}" || "${have_osv}" != "${OPENAPI_SPEC_VALIDATOR_VERSION}" ]]; then
    log "installing schemathesis==${SCHEMATHESIS_VERSION} openapi-spec-validator==${OPENAPI_SPEC_VALIDATOR_VERSION}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==${SCHEMATHESIS_VERSION}" "openapi-spec-validator==${OPENAPI_SPEC_VALIDATOR_VERSION}"
fi

cargo_lambda="$(bash "${repo_root}/ci/setup-cargo-lambda.sh")"
log "$("${cargo_lambda}" lambda --version), schemathesis ${SCHEMATHESIS_VERSION}"

# --- the spec itself -----------------------------------------------------------------------------------------
"${venv}/bin/openapi-spec-validator" openapi.yaml

# --- build, then serve -----------------------------------------------------------------------------------------
cargo build --quiet -p integration-tests --bin fake-persona -p issue-link -p resume-session

free_port() {
    "${python}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fake_port="$(free_port)"
watch_port="$(free_port)"
while [[ "${watch_port}" == "${fake_port}" ]]; do watch_port="$(free_port)"; done
fake_url="http://127.0.0.1:${fake_port}"
api_url="http://127.0.0.1:${watch_port}"

fake_pid=""
watch_pid=""
cleanup() {
    local status=$?
    # Each was started in its own process group (setsid): stop the group (watch's children are the functions).
    for pid in "${watch_pid}" "${fake_pid}"; do
        if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
            kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
        fi
    done
    for pid in "${watch_pid}" "${fake_pid}"; do
        [[ -n "${pid}" ]] || continue
        for _ in $(seq 1 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-${pid}" 2>/dev/null || true
        wait "${pid}" 2>/dev/null || true
    done
    exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CARGO_TARGET_DIR may be outside the checkout (.ci/run shares one between the original and its fresh clone).
setsid "${CARGO_TARGET_DIR:-${repo_root}/target}/debug/fake-persona" --port "${fake_port}" --seed --api-key "${API_KEY}" \
    >"${report_dir}/fake-persona.log" 2>&1 &
fake_pid=$!

export AUTH_MODE=iam PERSONA_API_KEY="${API_KEY}" PERSONA_API_BASE_URL="${fake_url}"
setsid "${cargo_lambda}" lambda watch --ignore-changes --quiet \
    --invoke-address 127.0.0.1 --invoke-port "${watch_port}" \
    --env-var "AUTH_MODE=iam,PERSONA_API_KEY=${API_KEY},PERSONA_API_BASE_URL=${fake_url}" \
    >"${report_dir}/cargo-lambda-watch.log" 2>&1 &
watch_pid=$!

wait_for() { # what, seconds, command...
    local what="$1" seconds="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "${what} not ready after ${seconds}s; logs in ${report_dir}"
            tail -n 20 "${report_dir}/fake-persona.log" "${report_dir}/cargo-lambda-watch.log" >&2 || true
            return 1
        fi
        kill -0 "${fake_pid}" 2>/dev/null || { log "the fake Persona exited"; return 1; }
        kill -0 "${watch_pid}" 2>/dev/null || { log "cargo lambda watch exited"; return 1; }
        sleep 0.5
    done
}
wait_for "fake Persona" 60 curl -sf "${fake_url}/_control/health"
# The first invocation of each function starts it (watch runs `cargo run`): wait until each answers 404 for an
# inquiry that doesn't exist (the fake's contract check compiles its validators meanwhile).
for action in one-time-link session; do
    wait_for "${action}" 240 sh -c "curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST \
        '${api_url}/inquiries/inq_NoSuchInquiry0001/${action}' | grep -qx 404"
done
log "fake Persona on ${fake_url}, functions on ${api_url}"

# --- fuzz ------------------------------------------------------------------------------------------------------
seed_args=()
if [[ -n "${SCHEMATHESIS_SEED:-}" ]]; then seed_args=(--seed "${SCHEMATHESIS_SEED}"); fi
st_status=0
# One narrow exemption for the emulator (never for the functions): see ci/schemathesis_hooks.py.
SCHEMATHESIS_HOOKS="${repo_root}/ci/schemathesis_hooks.py" \
    "${venv}/bin/schemathesis" --config-file "${repo_root}/ci/schemathesis.toml" run openapi.yaml \
    --url "${api_url}" \
    --include-path-regex '^/inquiries/' \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
    --phases examples,coverage,fuzzing \
    --max-examples "${max_examples}" \
    --workers 1 \
    --request-timeout 30 \
    --generation-database none \
    --no-color \
    --report junit --report-junit-path "${report_dir}/junit.xml" \
    "${seed_args[@]}" || st_status=$?

# --- what the fake saw -----------------------------------------------------------------------------------------
violations="$(curl -sf "${fake_url}/_control/violations" || echo unavailable)"
curl -sf "${fake_url}/_control/requests" >"${report_dir}/persona-requests.json" || echo '[]' >"${report_dir}/persona-requests.json"
# How often the generated inquiry ids reached the demo inquiries (through openapi.yaml's examples).
"${python}" - "${report_dir}/persona-requests.json" <<'PY' >&2
import collections, json, re, sys
requests = json.load(open(sys.argv[1]))
hits = collections.Counter()
for r in requests:
    m = re.search(r"/inquiries/(inq_Demo[A-Za-z]+0001)(?:/|$)", r["path"])
    if m and r["method"] == "GET":
        hits[m.group(1)] += 1
demo = ", ".join(f"{k} {v}" for k, v in sorted(hits.items())) or "none"
print(f"schemathesis.sh: the fake Persona answered {len(requests)} calls; inquiry reads of demo inquiries: {demo}")
PY
log "the fake Persona's contract violations: ${violations}"
if [[ "${violations}" != "[]" ]]; then
    log "FAILED: the functions' Persona calls broke Persona's contract (or the fake could not say)"
    exit 1
fi
if ((st_status != 0)); then
    log "FAILED: Schemathesis exited ${st_status} (report: ${report_dir}/junit.xml)"
    exit "${st_status}"
fi
log "ok"
