#!/usr/bin/env bash
# The README's picture of the headline-event report: docs/report.png.
#
# Builds the report without code cells (reports/03_plan_headline_event-no-input.html) if it
# is missing, then screenshots its top, the header (title, date, capplan version,
# parameters), the forecast and the first chart, in headless Chromium with no network.
# Run from anywhere: bash docs/screenshot.sh    (delete the report first to rebuild it)
set -euo pipefail
cd "$(dirname "$0")/.."

report=reports/03_plan_headline_event-no-input.html
png=docs/report.png
capplan=.venv/bin/capplan
[ -x "$capplan" ] || capplan=capplan
chromium=$(command -v chromium || command -v chromium-browser) || {
    echo "screenshot.sh: needs chromium (Debian: apt-get install chromium)" >&2
    exit 1
}

if [ ! -f "$report" ]; then
    "$capplan" report --no-input -o "$report"
fi

profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
# No network: every fetch goes to a proxy where nothing listens, and no name resolves.
# The virtual-time budget lets the charts draw before the picture is taken.
if ! "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --disable-background-networking --no-first-run --user-data-dir="$profile" \
    --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    --host-resolver-rules='MAP * ~NOTFOUND' \
    --virtual-time-budget=20000 --window-size=1280,2280 \
    --screenshot="$PWD/$png" "file://$PWD/$report" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
echo "wrote $png ($(wc -c <"$png") bytes) from $report"
