#!/usr/bin/env bash
# What the book's tests need: mdBook (pinned, with search) and, for the browser test, Chromium
# and ChromeDriver from the distribution. Idempotent; quick when all is there.
set -euo pipefail
MDBOOK_VERSION=0.5.4

if ! mdbook --version 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
  echo "==> installing mdbook $MDBOOK_VERSION (about 2 minutes)"
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --no-default-features --features search --quiet
fi
echo "==> $(mdbook --version)"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing chromium and chromium-driver from the distribution"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "error: the browser test needs chromium and chromedriver; install them (Debian: apt install chromium chromium-driver)" >&2
    exit 1
  fi
fi
echo "==> $(chromium --version 2>/dev/null | head -n1), $(chromedriver --version | head -n1)"
