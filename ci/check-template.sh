#!/usr/bin/env bash
# Deployment checks for CI: lint and validate template.yaml, run its static tests, and `sam build` it.
#
#   bash ci/check-template.sh            # everything (the sam build step compiles both functions)
#   SKIP_SAM_BUILD=1 bash ci/check-template.sh   # lint/validate/tests only (~30 s)
#
# Idempotent: installs its own pinned tools from PyPI into <repo>/.venv-tools (kept between runs; a pin
# change reinstalls). Needs: python3, cargo (rustup toolchain), network access to PyPI on the first run.
#
# Why these pins:
#   cfn-lint 1.53.3 is the LAST release that runs the SAM transform (aws-sam-translator). From 1.54.0 on,
#   cfn-lint neither depends on aws-sam-translator nor transforms SAM templates, and it passes a template
#   with `Runtime: provided.al2099-bogus` or an event `Type: HttpApiBogus` (seen with 1.58.0, with and
#   without aws-sam-translator installed). ci/tests/test_template.py plants both errors and asserts that
#   the pinned cfn-lint fails on each (E3030, E0001).
#   aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59, so one venv holds both.
#   cargo-lambda 1.9.2 (with its bundled Zig) is what `sam build`'s rust-cargolambda workflow runs; it is
#   found because the venv's bin/ goes first on PATH.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.53.3"
SAM_TRANSLATOR_VERSION="1.115.0"
CARGO_LAMBDA_VERSION="1.9.2"
PYTEST_VERSION="8.4.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo}/.venv-tools"
python="${PYTHON:-python3}"
pins=("aws-sam-cli==${SAM_CLI_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
      "aws-sam-translator==${SAM_TRANSLATOR_VERSION}" "cargo-lambda==${CARGO_LAMBDA_VERSION}"
      "pytest==${PYTEST_VERSION}")
stamp="${venv}/.pins"

export SAM_CLI_TELEMETRY=0                       # no calls home from sam
export PATH="${venv}/bin:${PATH}"                # sam, cfn-lint, cargo-lambda and python-zig (Zig)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${repo}/target}"   # one shared target dir
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"          # sam validate wants one; nothing is called

step() { printf '\n== %s\n' "$*"; }
elapsed() { printf -- '-- %s: %ss\n' "$1" "$(( $(date +%s) - $2 ))"; }

cd "${repo}"

step "tools (${venv})"
t0=$(date +%s)
if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
fi
if [[ "$(cat "${stamp}" 2>/dev/null || true)" != "${pins[*]}" ]]; then
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    printf '%s' "${pins[*]}" > "${stamp}"
fi
echo "sam $(sam --version | awk '{print $NF}'), cfn-lint $(cfn-lint --version | awk '{print $NF}'), $(cargo lambda --version | awk '{print $1, $2}')"
elapsed tools "${t0}"

step "cfn-lint template.yaml"
t0=$(date +%s)
cfn-lint -- template.yaml
elapsed cfn-lint "${t0}"

step "sam validate --lint"
t0=$(date +%s)
sam validate --lint --template-file template.yaml --region "${region}"
elapsed "sam validate" "${t0}"

step "pytest ci/tests (template contract + planted errors the pinned cfn-lint must catch)"
t0=$(date +%s)
python -m pytest -q -p no:cacheprovider ci/tests
elapsed pytest "${t0}"

if [[ "${SKIP_SAM_BUILD:-0}" == "1" ]]; then
    echo "SKIP_SAM_BUILD=1: sam build skipped"
    exit 0
fi

step "sam build (x86_64, offline, CARGO_TARGET_DIR=${CARGO_TARGET_DIR})"
# x86_64: the host's own target, so no extra rustup target is needed (the deployed default is arm64).
# sam build runs `cargo lambda build --release --bin <Binary>` in each function's package dir; with
# Zig as linker it builds for x86_64-unknown-linux-gnu in its own target subdirectory, so it does NOT reuse
# a plain `cargo build --release` (see docs/deploy.md, "CI cost").
t0=$(date +%s)
rm -rf .aws-sam/build
sam build --template-file template.yaml --parameter-overrides Architecture=x86_64
for fn in IssueLinkFunction ResumeSessionFunction; do
    artifact=".aws-sam/build/${fn}/bootstrap"
    if [[ ! -x "${artifact}" ]]; then
        echo "missing ${artifact}" >&2
        exit 1
    fi
    # ELF header: magic, then e_machine at offset 18 (0x3e = x86-64).
    python - "${artifact}" <<'PY' || { echo "${artifact} is not an x86-64 ELF executable" >&2; exit 1; }
import sys
head = open(sys.argv[1], "rb").read(20)
sys.exit(0 if head[:4] == b"\x7fELF" and head[18:20] == b"\x3e\x00" else 1)
PY
    echo "ok: ${artifact} ($(stat -c %s "${artifact}") bytes)"
done
elapsed "sam build" "${t0}"
echo "check-template: all passed"
