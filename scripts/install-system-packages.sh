#!/usr/bin/env bash
# Debian packages the project uses at run and test time: bubblewrap (the script sandbox) and,
# for the HTML report's browser test, chromium. Needs root and apt; elsewhere it says what to do.
set -euo pipefail
packages=("$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: install these Debian packages yourself: ${missing[*]}" \
         "(sudo apt-get install -y ${missing[*]}); without them see README 'Security'" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
