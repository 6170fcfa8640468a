#!/usr/bin/env bash
# Sends a sample event straight to a function served by `make dev` (cargo lambda watch, 127.0.0.1:${WATCH_PORT:-9002}),
# bypassing the gateway: the event's own claims are what the function checks (AUTH_MODE=jwt).
#   scripts/invoke.sh events/issue-link/http-api.pending.json      (or: make invoke EVENT=...)
# The function is the event's folder name. Prints the function's answer (an API Gateway proxy response).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
event="${1:?usage: scripts/invoke.sh events/<function>/<event>.json}"
[[ -f "${event}" ]] || { echo "invoke: no such file: ${event}" >&2; exit 2; }
function_name="$(basename "$(dirname "$(realpath "${event}")")")"
case "${function_name}" in
    issue-link|resume-session) ;;
    *) echo "invoke: ${event} is not under events/issue-link/ or events/resume-session/" >&2; exit 2 ;;
esac
cargo_lambda="$(bash "${repo_root}/ci/setup-cargo-lambda.sh")"
# watch listens on 127.0.0.1; invoke would default to [::1].
exec "${cargo_lambda}" lambda invoke --invoke-address 127.0.0.1 --invoke-port "${WATCH_PORT:-9002}" \
    "${function_name}" --data-file "${event}"
