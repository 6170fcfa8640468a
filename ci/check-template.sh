#!/usr/bin/env bash
# Deployment checks for CI: lint and validate template.yaml and run its static tests (ci/tests: the template's
# contract on the raw and the SAM-translated template, CORS, the planted errors the pinned cfn-lint must catch,
# and ci/check-paths.py's own tests). The build of what we deploy is ci/check-artifacts.sh.
#
#   bash ci/check-template.sh      # ~30 s once the tools are installed
#
# Idempotent: installs its pinned tools from PyPI into <repo>/.venv-tools (ci/setup-sam.sh; the pins and why).
# Needs: python3, network access to PyPI on the first run.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SAM_TOOLS_VENV:-${repo}/.venv-tools}"   # ci/setup-sam.sh
export SAM_CLI_TELEMETRY=0                       # no calls home from sam
export PATH="${venv}/bin:${PATH}"                # sam, cfn-lint, pytest
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"          # sam validate wants one; nothing is called

step() { printf '\n== %s\n' "$*"; }
elapsed() { printf -- '-- %s: %ss\n' "$1" "$(( $(date +%s) - $2 ))"; }

cd "${repo}"

step "tools (${venv})"
t0=$(date +%s)
bash ci/setup-sam.sh
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

echo "check-template: all passed"
