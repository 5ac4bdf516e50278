#!/usr/bin/env bash
# Installs what the build and the tests need (Debian/Ubuntu). Cheap when it is present.
# As root it uses apt-get for the system packages; otherwise it only checks them and says what is missing. Then it
# installs the API check's pinned Python packages (scripts/api/requirements.txt) into a virtual environment of their
# own with pip (see scripts/api/environment.sh), once per change of the requirements.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libpq-dev libsqlite3-dev libssl-dev libffi-dev pkg-config gcc binutils postgresql curl)
# The virtual environment needs Python's venv and ensurepip (Debian ships them as python3-venv).
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || packages+=(python3 python3-venv)

status=0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
    fi
else
    for library in libpq sqlite3 libcrypto; do
        if ! pkg-config --exists "$library" 2>/dev/null; then
            echo "missing: the development files of $library" >&2
            status=1
        fi
    done
    for command in curl python3; do
        command -v "$command" >/dev/null 2>&1 || { echo "missing: $command" >&2; status=1; }
    done
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        echo "missing: Python's venv module (python3-venv)" >&2
        status=1
    fi
    if [ $status != 0 ]; then
        echo "install them with: sudo apt-get install -y ${packages[*]}" >&2
        exit $status
    fi
fi

# shellcheck source=scripts/api/environment.sh
source scripts/api/environment.sh
if ! cmp -s "$api_requirements" "$api_python_env/requirements.txt"; then
    echo "==> pip install -r scripts/api/requirements.txt into $api_python_env"
    rm -rf "$api_python_env"
    python3 -m venv "$api_python_env"
    "$api_python_env/bin/pip" install -q --disable-pip-version-check -r "$api_requirements"
    cp "$api_requirements" "$api_python_env/requirements.txt"
fi
