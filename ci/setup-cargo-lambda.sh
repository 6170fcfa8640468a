#!/usr/bin/env bash
# Prints the path of a cargo-lambda executable, installing the pinned one (PyPI) into .venv-tools/cargo-lambda
# when none is found. Looks first in .venv-tools/bin (ci/check-template.sh's tools venv, same pin), then in
# .venv-tools/cargo-lambda/bin, then on PATH. Messages go to stderr; stdout carries only the path.
set -euo pipefail

CARGO_LAMBDA_VERSION="1.9.2"   # keep in step with ci/check-template.sh (its venv is looked in first)
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

for candidate in "${SAM_TOOLS_VENV:-${repo_root}/.venv-tools}/bin/cargo-lambda" "${repo_root}/.venv-tools/cargo-lambda/bin/cargo-lambda" \
    "$(command -v cargo-lambda || true)"; do
    if [[ -n "${candidate}" && -x "${candidate}" ]]; then
        echo "${candidate}"
        exit 0
    fi
done
venv="${repo_root}/.venv-tools/cargo-lambda"
echo "setup-cargo-lambda: installing cargo-lambda==${CARGO_LAMBDA_VERSION} into ${venv}" >&2
"${PYTHON:-python3}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==${CARGO_LAMBDA_VERSION}" >&2
echo "${venv}/bin/cargo-lambda"
