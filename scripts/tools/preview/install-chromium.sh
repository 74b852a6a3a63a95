#!/usr/bin/env bash
# Installs what the browser tests and screenshots need from Debian packages, when
# missing: Chromium, and fonts for Chinese and Japanese text (Noto CJK) and for the
# Arial/Helvetica metrics SLDS asks for (Liberation). Needs root or password-less sudo.
# Usage: scripts/tools/preview/install-chromium.sh   (called by the browser tests)
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
# (no `| grep -q` on fc-list: an early exit would fail the pipe under pipefail)
if [ -z "$(fc-list :lang=ja 2>/dev/null || true)" ]; then packages+=(fonts-noto-cjk); fi
if [ -z "$(fc-list 'Liberation Sans' 2>/dev/null || true)" ]; then packages+=(fonts-liberation2); fi

if [ ${#packages[@]} -eq 0 ]; then
    echo "install-chromium: Chromium and the fonts are installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get here; install Chromium yourself and set PREVIEW_CHROMIUM=/path/to/chromium" >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "install-chromium: installing ${packages[*]} needs root (or password-less sudo)" >&2
        exit 1
    fi
fi

echo "install-chromium: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
