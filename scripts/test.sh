#!/usr/bin/env bash
# Everything CI checks, in the order that fails fastest. Installs the test tools it needs (idempotently):
# moto (PyPI) for Secrets Manager, Stoplight Prism (npm) for Persona's contract, cfn-lint / aws-sam-cli /
# cargo-lambda (PyPI) for the template, Schemathesis (PyPI) for our own API. One target dir for everything.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

step "tools"
bash ci/setup-python.sh
bash ci/setup-prism.sh

step "format"
cargo fmt --all -- --check

step "release binaries (the end-to-end suite drives them)"
cargo build --release --locked -p issue-link -p resume-session

step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests: unit, events, scenarios, fake Persona, rig, end to end through moto and Prism"
# CI=true makes Prism mandatory for the end-to-end suite (no silent skip).
cargo test --locked --workspace

step "template: cfn-lint, sam validate --lint, sam build, template tests"
bash ci/check-template.sh

step "our API contract: Schemathesis against openapi.yaml"
bash ci/schemathesis.sh

step "done"
