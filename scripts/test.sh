#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (including
# the differential test against tshark and the determinism test), and the
# Python reader checked against `netcap dump --json` (gzip and zstd files), and
# the Parquet files read with DuckDB, pyarrow and pandas against the same.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --release -p netcap --quiet
if [ -x examples/python/check_against_dump.sh ]; then
  examples/python/check_against_dump.sh target/release/netcap testdata/pcaps/mixed-lan-wireshark-samples.pcapng
  # The same through the Python reader's zstd path (.ncap.zst files).
  NETCAP_CAPTURE_ARGS="--entropy --compression zstd" \
    examples/python/check_against_dump.sh target/release/netcap testdata/pcaps/mixed-lan-wireshark-samples.pcapng
fi
scripts/check_parquet.sh target/release/netcap
cargo test --workspace --release
