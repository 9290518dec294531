#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (including
# the differential test against tshark and the determinism test), and the
# Python package checked against `netcap dump --json` (python/tests/check.sh),
# and the Parquet files read with DuckDB, pyarrow and pandas against the same,
# and the metrics of a live capture scraped by Prometheus (check_metrics.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --release -p netcap --quiet
# The Python package (python/), installed into a fresh venv, against
# `netcap dump --json` on every test capture (gzip, zstd and uncompressed).
python/tests/check.sh target/release/netcap testdata/pcaps/*.pcap testdata/pcaps/*.pcapng testdata/streams/*.pcap
scripts/check_parquet.sh target/release/netcap
# A real Prometheus server scrapes a live capture on lo (needs root).
scripts/check_metrics.sh target/release/netcap
cargo test --workspace --release
