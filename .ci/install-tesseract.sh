#!/bin/sh
# Install Debian's Tesseract OCR (with English) for scanned PDF pages and their tests.
# Idempotent: does nothing when tesseract is already on PATH. Without it, PDFs still load;
# pages without a text layer are left out and the OCR tests are skipped with this script's name.
set -eu

if command -v tesseract >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-tesseract: installing tesseract-ocr with apt-get" >&2
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null

if ! command -v tesseract >/dev/null 2>&1; then
    echo "install-tesseract: apt-get finished but tesseract is missing" >&2
    exit 1
fi
