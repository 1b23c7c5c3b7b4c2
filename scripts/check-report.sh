#!/usr/bin/env bash
# Renders the committed reports (comparisons and the timeline) in headless Chromium (Debian's `chromium`,
# installed if missing) and fails on a console error, a page that does not load, or a chart with nothing drawn in
# it. Screenshots go to target/report-screenshots/ for a person to look at. CI does not run it.
#
#   scripts/check-report.sh [report-folder...]     (default: every folder under reports/)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
folders=("$@")
if [ ${#folders[@]} -eq 0 ]; then
    mapfile -t folders < <(find reports -mindepth 1 -maxdepth 1 -type d | sort)
fi
shots=target/report-screenshots
mkdir -p "$shots"
status=0
for folder in "${folders[@]}"; do
    for page in "$folder"/*.html; do
        [ -e "$page" ] || continue
        name=$(basename "$folder")-$(basename "$page" .html)
        url="file://$(realpath "$page")"
        log=$(mktemp)
        chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
            --window-size=1200,2800 --screenshot="$shots/$name.png" "$url" 2>"$log" >/dev/null || true
        dom=$(chromium --headless --no-sandbox --disable-gpu --dump-dom "$url" 2>/dev/null)
        if grep -E 'CONSOLE|Uncaught|ERR_FILE_NOT_FOUND' "$log" | grep -v 'dbus' >/dev/null; then
            echo "FAIL $page: console errors:"; grep -E 'CONSOLE|Uncaught|ERR_FILE' "$log"; status=1
        fi
        charts=$(grep -o '<svg' <<<"$dom" | wc -l)
        if [ "$charts" -eq 0 ]; then
            echo "FAIL $page: no chart rendered"; status=1
        fi
        # Every chart must draw some data: a shape in a colour (axes, mesh, fault lines and background are grey,
        # black or white), besides its legend (a comparison's charts have one inside; a timeline's keys are HTML).
        empty=$(python3 - "$page" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
least = 2 if sys.argv[1].endswith("index.html") else 1
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
def coloured(svg):
    shapes = re.findall(r"<(?:rect|polyline|circle|path)\b[^>]*?(?:fill|stroke)=\"#([0-9A-Fa-f]{6})\"", svg)
    return sum(1 for c in shapes if len({c[0:2], c[2:4], c[4:6]}) > 1)
print(sum(1 for s in svgs if coloured(s) < least))
PY
)
        if [ "$empty" -ne 0 ]; then
            echo "FAIL $page: $empty chart(s) with nothing drawn"; status=1
        fi
        [ -s "$shots/$name.png" ] || { echo "FAIL $page: no screenshot"; status=1; }
        echo "ok   $page: $charts charts, screenshot $shots/$name.png"
        rm -f "$log"
    done
done
exit $status
