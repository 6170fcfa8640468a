#!/usr/bin/env bash
# Installs the pinned deployment tools from PyPI into <repo>/.venv-tools (or $SAM_TOOLS_VENV) (kept between runs; a pin change
# reinstalls): aws-sam-cli, cfn-lint, aws-sam-translator, cargo-lambda (with its bundled Zig), pytest.
# Used by ci/check-template.sh and ci/check-artifacts.sh. Idempotent; needs python3 and, on the first run, PyPI.
#
# Why these pins:
#   cfn-lint 1.53.3 is the LAST release that runs the SAM transform (aws-sam-translator). From 1.54.0 on,
#   cfn-lint neither depends on aws-sam-translator nor transforms SAM templates, and it passes a template
#   with `Runtime: provided.al2099-bogus` or an event `Type: HttpApiBogus` (seen with 1.58.0, with and
#   without aws-sam-translator installed). ci/tests/test_template.py plants both errors and asserts that
#   the pinned cfn-lint fails on each (E3030, E0001).
#   aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59, so one venv holds both.
#   cargo-lambda 1.9.2 (with its bundled Zig) is what `sam build`'s rust-cargolambda workflow runs; it is
#   found because the venv's bin/ goes first on PATH (keep ci/setup-cargo-lambda.sh's pin in step).
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.53.3"
SAM_TRANSLATOR_VERSION="1.115.0"
CARGO_LAMBDA_VERSION="1.9.2"
PYTEST_VERSION="8.4.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# SAM_TOOLS_VENV: another place for it (.ci/run keeps the checkout's for its clone: cargo-lambda's path is part
# of the C compiler wrapper that aws-lc-sys & co. are fingerprinted with, so a new venv rebuilds them).
venv="${SAM_TOOLS_VENV:-${repo}/.venv-tools}"
python="${PYTHON:-python3}"
pins=("aws-sam-cli==${SAM_CLI_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
      "aws-sam-translator==${SAM_TRANSLATOR_VERSION}" "cargo-lambda==${CARGO_LAMBDA_VERSION}"
      "pytest==${PYTEST_VERSION}")
stamp="${venv}/.pins"

if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
fi
if [[ "$(cat "${stamp}" 2>/dev/null || true)" != "${pins[*]}" ]]; then
    echo "setup-sam: installing ${pins[*]} into ${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    printf '%s' "${pins[*]}" > "${stamp}"
fi
export SAM_CLI_TELEMETRY=0
export PATH="${venv}/bin:${PATH}"
echo "setup-sam: sam $(sam --version | awk '{print $NF}'), cfn-lint $(cfn-lint --version | awk '{print $NF}'), $(cargo lambda --version | awk '{print $1, $2}') in ${venv}"
