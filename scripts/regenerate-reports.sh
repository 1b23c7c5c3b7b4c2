#!/usr/bin/env bash
# Regenerates the committed example reports under reports/ (deterministic: the same bytes on every machine and
# with any --jobs; tests/integration/compare.rs checks the committed ones are what this writes).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
insync=target/release/insync
"$insync" compare scenarios/compare/acks.toml --seeds 200 --jobs 2 -o reports/acks --quiet
"$insync" compare scenarios/compare/durability-ladder.toml --jobs 2 -o reports/durability-ladder --quiet
