#!/bin/sh
# Install Debian's Chromium (plus fonts so screenshots show real text) for the browser tests.
# Idempotent: does nothing when /usr/bin/chromium already exists.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing chromium with apt-get" >&2
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation fonts-dejavu-core >/dev/null

if [ ! -x /usr/bin/chromium ]; then
    echo "install-chromium: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
