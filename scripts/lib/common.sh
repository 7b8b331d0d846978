# Shared helpers for Sluice's scripts: installing what a fresh Debian 12 machine lacks, and starting the
# local servers (ClickHouse 18.16, ClickHouse 26.9 via chdb-core, moto) on loopback.
# Source it: `. "$(dirname "$0")/lib/common.sh"`.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages Sluice builds, tests and runs with.
APT_PACKAGES=(
    libsnappy-dev libzstd-dev liblz4-dev libbrotli-dev zlib1g-dev libsqlite3-dev
    clickhouse-server clickhouse-client curl python3-pip openssl
)

# Python packages for the local servers, test data and API/ops checks.
PIP_PACKAGES=(
    "moto[server]" chdb-core pyarrow schemathesis pyyaml
)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_system_packages() {
    local missing=()
    for p in "${APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

install_python_packages() {
    local missing=()
    python3 -c 'import moto, flask' 2>/dev/null || missing+=("moto[server]")
    python3 -c 'import chdb' 2>/dev/null || missing+=(chdb-core)
    python3 -c 'import pyarrow' 2>/dev/null || missing+=(pyarrow)
    python3 -c 'import yaml' 2>/dev/null || missing+=(pyyaml)
    command -v st >/dev/null 2>&1 || missing+=(schemathesis)
    for p in "$@"; do missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Python packages: ${missing[*]}"
        python3 -m pip install -q --disable-pip-version-check "${missing[@]}" 2>&1 | grep -v "running pip as the 'root' user" || true
    fi
}

# Starts every local server under $1 and exports their addresses:
# SLUICE_TEST_CH18_URL, SLUICE_TEST_CH26_URL, SLUICE_TEST_S3_ENDPOINT (moto), and the signature-checking
# moto's SLUICE_TEST_S3_AUTH_ENDPOINT with its credentials.
start_servers() {
    local work=$1 port
    mkdir -p "$work"
    log "starting ClickHouse 18.16"
    port=$("$ROOT/scripts/servers/ch18.sh" start "$work/ch18") || return 1
    export SLUICE_TEST_CH18_URL="http://127.0.0.1:$port"
    log "starting ClickHouse 26.9 (chdb-core)"
    port=$("$ROOT/scripts/servers/chdb.sh" start "$work/ch26") || return 1
    export SLUICE_TEST_CH26_URL="http://127.0.0.1:$port"
    log "starting moto (S3, SQS, STS)"
    port=$("$ROOT/scripts/servers/moto.sh" start "$work/moto") || return 1
    export SLUICE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    port=$("$ROOT/scripts/servers/moto.sh" start "$work/moto-auth" 0 --auth) || return 1
    set -a
    # shellcheck disable=SC1091
    . "$work/moto-auth/auth.env"
    set +a
}

stop_servers() {
    local work=$1
    "$ROOT/scripts/servers/moto.sh" stop "$work/moto-auth" >/dev/null 2>&1 || true
    "$ROOT/scripts/servers/moto.sh" stop "$work/moto" >/dev/null 2>&1 || true
    "$ROOT/scripts/servers/chdb.sh" stop "$work/ch26" >/dev/null 2>&1 || true
    "$ROOT/scripts/servers/ch18.sh" stop "$work/ch18" >/dev/null 2>&1 || true
}
