#!/usr/bin/env bash
# Regenerates the committed example reports under reports/: two comparisons and one timeline. Deterministic: the
# same bytes on every machine and with any --jobs; tests/integration/compare.rs and timeline.rs check that the
# committed ones are what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
insync=target/release/insync
"$insync" compare scenarios/compare/acks.toml --seeds 200 --jobs 2 -o reports/acks --quiet
"$insync" compare scenarios/compare/durability-ladder.toml --jobs 2 -o reports/durability-ladder --quiet
mkdir -p reports/timeline
"$insync" run scenarios/acks1-leader-crash.toml --timeline reports/timeline/acks1-leader-crash.html >/dev/null
