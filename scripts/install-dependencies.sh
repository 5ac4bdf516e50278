#!/usr/bin/env bash
# Installs the system packages the build and the tests need (Debian/Ubuntu). Cheap when they are present.
# As root it uses apt-get; otherwise it only checks and says what is missing.
set -euo pipefail

packages=(libpq-dev libsqlite3-dev libssl-dev libffi-dev pkg-config gcc binutils postgresql)

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
    exit 0
fi

status=0
for library in libpq sqlite3 libcrypto; do
    if ! pkg-config --exists "$library" 2>/dev/null; then
        echo "missing: the development files of $library" >&2
        status=1
    fi
done
if [ $status != 0 ]; then
    echo "install them with: sudo apt-get install -y ${packages[*]}" >&2
fi
exit $status
