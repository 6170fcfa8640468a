#!/usr/bin/env bash
# The TLS handshake CPU of reqwest + rustls with each crypto provider (aws-lc-rs, ring), at full CPU and at the CPU
# share of 128 MB / 256 MB Lambdas (a cgroup v1 CFS quota, as the benchmark's Lambda-like mode), against an ECDSA
# P-256 and an RSA 2048 server certificate (throwaway CA, trusted through SSL_CERT_FILE as in the functions), and
# the size of each build. Prints a Markdown table (bench/optimisations.md, "TLS provider").
#   bench/tls-providers/run.sh [ROUNDS]        # default 300 requests per measurement
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rounds="${1:-300}"
command -v openssl >/dev/null || { echo "tls-providers: openssl is needed for the throwaway CA (apt-get install openssl)" >&2; exit 1; }
repo_root="$(dirname "$(dirname "${here}")")"
target="${CARGO_TARGET_DIR:-${repo_root}/target}/tls-providers"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    [[ -n "${server_pid}" ]] && kill "${server_pid}" 2>/dev/null || true
    for group in "${work}"/cgroups/*; do [[ -e "${group}" ]] && rmdir "/sys/fs/cgroup/cpu/$(basename "${group}")" 2>/dev/null || true; done
    rm -rf "${work}"
}
trap cleanup EXIT

for provider in aws-lc-rs ring; do
    echo "tls-providers: building with ${provider}" >&2
    cargo build --quiet --release --locked --manifest-path "${here}/Cargo.toml" --target-dir "${target}" --features "${provider}"
    cp "${target}/release/tls-providers" "${work}/${provider}"
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" \
    -keyout "${work}/ca.key" -out "${work}/ca.pem" 2>/dev/null
for kind in ecdsa rsa; do
    case "${kind}" in
        ecdsa) key_options=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
        rsa) key_options=(-newkey rsa:2048) ;;
    esac
    openssl req -new "${key_options[@]}" -nodes -subj "/CN=localhost" -keyout "${work}/${kind}.key" \
        -out "${work}/${kind}.csr" 2>/dev/null
    openssl x509 -req -in "${work}/${kind}.csr" -CA "${work}/ca.pem" -CAkey "${work}/ca.key" -CAcreateserial -days 1 \
        -extfile <(printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE') -out "${work}/${kind}.pem" 2>/dev/null
done

# A fresh cgroup per run (a group an earlier run left throttled would throttle the next); the client process moves
# itself in before it runs.
capped() {
    local memory_mb="$1" run="$2"; shift 2
    if [[ "${memory_mb}" == full ]]; then "$@"; return; fi
    local group="/sys/fs/cgroup/cpu/persona-resume-tls-$$-${memory_mb}-${run}"
    mkdir -p "${group}" "${work}/cgroups" && touch "${work}/cgroups/$(basename "${group}")"
    echo 100000 >"${group}/cpu.cfs_period_us"
    echo $((100000 * memory_mb / 1769)) >"${group}/cpu.cfs_quota_us"
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "${group}" "$@"
}
runs=0
shares=(full)
if [[ -w /sys/fs/cgroup/cpu ]]; then shares+=(128 256); else echo "tls-providers: no writable cgroup v1 cpu controller: full CPU only" >&2; fi

echo "| provider | server certificate | CPU share | handshake CPU (fresh − kept request) | request on a fresh connection: CPU / mean wall | on a kept one: CPU / mean wall | build size |"
echo "|---|---|---|---|---|---|---|"
for kind in ecdsa rsa; do
    "${work}/aws-lc-rs" serve "${work}/${kind}.pem" "${work}/${kind}.key" >"${work}/port" 2>"${work}/server-${kind}.log" &
    server_pid=$!
    for _ in $(seq 1 100); do [[ -s "${work}/port" ]] && break; sleep 0.05; done
    [[ -s "${work}/port" ]] || { cat "${work}/server-${kind}.log" >&2; echo "tls-providers: the server did not start" >&2; exit 1; }
    url="https://localhost:$(cat "${work}/port")/"
    for provider in aws-lc-rs ring; do
        size="$(stat -c %s "${work}/${provider}")"
        for share in "${shares[@]}"; do
            runs=$((runs + 1))
            line="$(SSL_CERT_FILE="${work}/ca.pem" capped "${share}" "${runs}" "${work}/${provider}" connect "${url}" "${rounds}")"
            field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${line}"; }
            label="${share}"; [[ "${share}" == full ]] || label="${share} MB"
            echo "| ${provider} | ${kind} | ${label} | $(field handshake_cpu_ms) ms | $(field fresh_cpu_ms) / $(field fresh_wall_ms) ms | $(field kept_cpu_ms) / $(field kept_wall_ms) ms | $(awk -v b="${size}" 'BEGIN { printf "%.2f MB", b / 1e6 }') |"
        done
    done
    kill "${server_pid}" 2>/dev/null || true; wait "${server_pid}" 2>/dev/null || true; server_pid=""
    : >"${work}/port"
done
echo
echo "What the server negotiated, in the order the clients came (aws-lc-rs, then ring; ${rounds} requests per measurement):"
for kind in ecdsa rsa; do sed "s/^serve: /- ${kind}: /" "${work}/server-${kind}.log"; done
