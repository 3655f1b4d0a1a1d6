#!/usr/bin/env bash
# Installs what expstream needs on a fresh Debian/Ubuntu machine, skipping what is already there:
# system packages (compilers, Boost, libpqxx, simdjson, GoogleTest, PostgreSQL, Chromium for the
# browser test, clang with libFuzzer and its sanitizer runtimes for cpp/fuzz), Node.js packages of
# the dashboard, and a virtualenv with the package itself.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential cmake pkg-config python3-venv python3-dev
  libboost-dev libpqxx-dev libsimdjson-dev libgtest-dev
  postgresql postgresql-client nodejs npm chromium
  clang-14 libfuzzer-14-dev libclang-rt-14-dev)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # nodejs/npm may come from elsewhere (nodesource, nvm): a working command is enough.
  case "$pkg" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    chromium) [ -x /usr/bin/chromium ] && continue ;;
  esac
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip

(cd frontend && npm ci --no-audit --no-fund --loglevel=error)
