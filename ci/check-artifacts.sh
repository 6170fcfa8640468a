#!/usr/bin/env bash
# The artifact we deploy is the one we test (issue #12.6), for the template's default architecture (arm64):
#   1. `sam build` (arm64) -> .aws-sam/build/{IssueLinkFunction,ResumeSessionFunction}/bootstrap, aarch64 ELFs;
#   2. every `cargo lambda build` command documented in a code block of docs/deploy.md or README.md, run as
#      written -> target/lambda/<binary>/bootstrap must be byte-identical (SHA-256) to what sam build produced
#      (a command that builds the workspace instead of the two function packages lets the test crate's
#      dependency features, e.g. serde_json's float_roundtrip, into the binaries and fails here);
#   3. both aarch64 bootstraps booted under qemu-aarch64 against the Runtime API driver, moto and the fake
#      Persona: one invocation each answers 200 (tests/tests/binaries/arm64.rs, ARM64_BOOT=1).
#
#   bash ci/check-artifacts.sh
#
# Installs what is missing, idempotently: the rustup target aarch64-unknown-linux-gnu, Debian's qemu-user and
# libc6-arm64-cross (apt, as root), the pinned sam/cargo-lambda venv (ci/setup-sam.sh). One target dir
# (CARGO_TARGET_DIR, default <repo>/target): sam build and cargo lambda build share their compilation.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${repo}/target}"
export SAM_CLI_TELEMETRY=0
export PATH="${SAM_TOOLS_VENV:-${repo}/.venv-tools}/bin:${PATH}"    # sam, cargo-lambda and its Zig (ci/setup-sam.sh)

declare -A logical_id=([issue-link]=IssueLinkFunction [resume-session]=ResumeSessionFunction)
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
elapsed() { printf -- '-- %s: %ss\n' "$1" "$(( $(date +%s) - $2 ))"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

step "tools: rustup target, qemu-user, libc6-arm64-cross, sam and cargo-lambda"
t0=$(date +%s)
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi
need_apt=()
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
[[ -d /usr/aarch64-linux-gnu/lib ]] || need_apt+=(libc6-arm64-cross)
if [[ ${#need_apt[@]} -gt 0 ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "check-artifacts: install ${need_apt[*]} first (Debian: apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
bash ci/setup-sam.sh
elapsed tools "${t0}"

step "sam build (arm64, the template's default)"
t0=$(date +%s)
rm -rf .aws-sam/build
sam build --template-file template.yaml
declare -A sam_sha
for bin in "${!logical_id[@]}"; do
    artifact=".aws-sam/build/${logical_id[${bin}]}/bootstrap"
    [[ -x "${artifact}" ]] || { echo "missing ${artifact}" >&2; exit 1; }
    # ELF header: magic, then e_machine at offset 18 (0xb7 = AArch64).
    python3 - "${artifact}" <<'PY' || { echo "${artifact} is not an AArch64 ELF executable" >&2; exit 1; }
import sys
head = open(sys.argv[1], "rb").read(20)
sys.exit(0 if head[:4] == b"\x7fELF" and head[18:20] == b"\xb7\x00" else 1)
PY
    sam_sha[${bin}]="$(sha "${artifact}")"
    echo "ok: ${artifact} aarch64, $(stat -c %s "${artifact}") bytes, sha256 ${sam_sha[${bin}]}"
done
elapsed "sam build" "${t0}"

step "documented cargo-lambda builds produce the same bytes"
t0=$(date +%s)
# Lines of fenced code blocks that run `cargo lambda build`, without trailing comments.
mapfile -t commands < <(python3 - docs/deploy.md README.md <<'PY'
import re, sys
for name in sys.argv[1:]:
    fenced = False
    for line in open(name, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced and re.match(r"\s*cargo lambda build\b", line):
            print(line.split(" #", 1)[0].strip())
PY
)
if [[ ${#commands[@]} -eq 0 ]]; then
    echo "no documented cargo lambda build command found in docs/deploy.md or README.md" >&2
    exit 1
fi
failed=0
for command in "${commands[@]}"; do
    if [[ "${command}" != *"--arm64"* ]]; then
        echo "FAIL: documented '${command}' does not build arm64, the template's default (compare like with like)" >&2
        failed=1
        continue
    fi
    echo "\$ ${command}"
    read -ra argv <<<"${command}"
    # Removed first, so what is compared below is what this command wrote (sam build left a copy there).
    for bin in "${!logical_id[@]}"; do rm -f "${CARGO_TARGET_DIR}/lambda/${bin}/bootstrap"; done
    "${argv[@]}"
    for bin in "${!logical_id[@]}"; do
        built="${CARGO_TARGET_DIR}/lambda/${bin}/bootstrap"
        got="$(sha "${built}" 2>/dev/null || echo missing)"
        if [[ "${got}" == "${sam_sha[${bin}]}" ]]; then
            echo "ok: ${bin}: identical to sam build's (sha256 ${got})"
        else
            echo "FAIL: ${bin}: '${command}' gives ${got} ($(stat -c %s "${built}" 2>/dev/null || echo 0) bytes), sam build gave ${sam_sha[${bin}]}" >&2
            failed=1
        fi
    done
done
[[ "${failed}" == 0 ]] || exit 1
elapsed "cargo lambda builds" "${t0}"

step "boot both aarch64 bootstraps under qemu-aarch64 (Runtime API driver, moto, fake Persona)"
t0=$(date +%s)
ARM64_BOOT=1 ARM64_BUILD_DIR="${repo}/.aws-sam/build" \
    cargo test --locked --workspace --test binaries -- arm64:: --nocapture   # --workspace: the feature set `cargo test --workspace` already built
elapsed "arm64 boot" "${t0}"
echo "check-artifacts: all passed"
