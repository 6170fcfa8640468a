#!/usr/bin/env bash
# Everything CI checks, in the order that fails fastest. Installs the test tools it needs (idempotently):
# moto (PyPI) for Secrets Manager, Stoplight Prism (npm) for Persona's contract, cfn-lint / aws-sam-cli /
# cargo-lambda (PyPI) for the template and the arm64 build, qemu-user + libc6-arm64-cross (apt) and the rustup
# target aarch64-unknown-linux-gnu to boot it, Schemathesis (PyPI) for our own API. One target dir for everything
# (CARGO_TARGET_DIR, default <repo>/target). Each step prints its wall time; the total comes last.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

started=$(date +%s)
step_name=""
step_t0=${started}
step() {
    finish_step
    step_name="$1"
    step_t0=$(date +%s)
    printf '\n=== %s (%s)\n' "$1" "$(date +%T)"
}
finish_step() {
    if [[ -n "${step_name}" ]]; then
        printf -- '--- %s: %ss\n' "${step_name}" "$(( $(date +%s) - step_t0 ))"
    fi
}

step "paths: no file names a path outside the checkout"
python3 ci/check-paths.py

step "tools"
bash ci/setup-python.sh
bash ci/setup-prism.sh

step "format"
cargo fmt --all -- --check

step "release binaries (the end-to-end suite drives them)"
cargo build --release --locked -p issue-link -p resume-session

step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests: unit, events, scenarios, fake Persona, rig, config defaults, end to end through moto and Prism"
# CI=true makes Prism mandatory for the end-to-end suite (no silent skip).
cargo test --locked --workspace

step "front-end kit in headless Chromium, every sample event through make invoke (make dev on free ports)"
bash ci/browser.sh

step "template: cfn-lint, sam validate --lint, template and check-paths tests"
bash ci/check-template.sh

step "artifacts: sam build (arm64) = documented cargo-lambda builds, both booted under qemu-aarch64"
bash ci/check-artifacts.sh

step "our API contract: Schemathesis against openapi.yaml"
bash ci/schemathesis.sh

finish_step
step_name=""
printf '\n=== done: make test took %ss\n' "$(( $(date +%s) - started ))"
