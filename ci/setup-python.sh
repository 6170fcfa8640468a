#!/usr/bin/env bash
# Creates <repo>/.venv with the Python test tools (moto's Secrets Manager server) pinned below.
# Idempotent: re-running with the venv already up to date does nothing but a quick check.
# Afterwards: export MOTO_SERVER="<repo>/.venv/bin/moto_server" (the test rig also looks there on its own).
set -euo pipefail

MOTO_VERSION="5.2.5"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.venv"
python="${PYTHON:-python3}"

if [[ ! -x "${venv}/bin/python" ]]; then
    echo "setup-python: creating ${venv}"
    "${python}" -m venv "${venv}"
fi

installed="$("${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
if [[ "${installed}" == "${MOTO_VERSION}" ]] && "${venv}/bin/python" -c 'import flask, flask_cors' 2>/dev/null \
    && [[ -x "${venv}/bin/moto_server" ]]; then
    echo "setup-python: moto[server]==${MOTO_VERSION} already installed in ${venv}"
else
    echo "setup-python: installing moto[server]==${MOTO_VERSION} into ${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==${MOTO_VERSION}"
fi

"${venv}/bin/moto_server" --help >/dev/null
echo "setup-python: ok: ${venv}/bin/moto_server"
