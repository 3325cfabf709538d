#!/usr/bin/env bash
# Render an HTML page made by captioner (caption --html, score --html) in headless Chromium and save a PNG:
#   bash scripts/screenshot.sh gallery.html gallery.png [WIDTHxHEIGHT]
# Needs the Debian/Ubuntu package `chromium` (or CHROMIUM=/path/to/chrome).
set -euo pipefail
page="$(realpath "$1")"; png="$(realpath -m "$2")"; size="${3:-1280x1600}"
browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
[ -n "$browser" ] || { echo "no chromium found (apt-get install chromium)" >&2; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$png" "file://$page" 2>/dev/null
echo "$png"
