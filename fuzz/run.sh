#!/usr/bin/env bash
# Short fuzz run of every target (CI smoke test): seeds the corpora from the test
# captures, then runs each target for SECONDS (default 30). Crashes are saved
# under fuzz/artifacts/<target>/ and fail the run: turn each into a regression
# test with its input.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-30}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly features (sanitizers); with only a stable toolchain,
# RUSTC_BOOTSTRAP lets stable rustc accept them.
if rustup toolchain list 2>/dev/null | grep -q nightly; then TC="+nightly"; else TC=""; export RUSTC_BOOTSTRAP=1; fi
cargo build --release -q -p netcap
python3 fuzz/seed.py target/release/netcap
# Every target must build: a target that no longer compiles must fail the run,
# not be skipped.
cargo $TC fuzz build
for t in decode_packet capture_reader ncap_reader flow_table defrag reassembly stream_parsers; do
  echo "fuzzing $t for ${SECONDS_PER_TARGET}s"
  # Targets seed.py does not seed start from an empty corpus.
  mkdir -p "fuzz/corpus/$t"
  log="$(mktemp)"
  cargo $TC fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1 || true
  grep -E "^(#[0-9]+\s+DONE|Done|==|SUMMARY|artifact)" "$log" || true
  if ls "fuzz/artifacts/$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz target $t crashed: see fuzz/artifacts/$t"; exit 1
  fi
  # libFuzzer ends a timed run with "Done N runs": without it, the target did
  # not run (a crash without artifact, an out-of-memory, a build failure).
  if ! grep -qE "^Done [0-9]+ runs" "$log"; then
    echo "fuzz target $t did not run to its end:"; tail -30 "$log"; exit 1
  fi
  rm -f "$log"
done
