#!/usr/bin/env bash
# A real Prometheus server scrapes `netcap capture -i lo --metrics` while
# known loopback traffic is captured; the values are checked through
# Prometheus' HTTP query API, and the final ones against netcap's summary
# and the files on disk (see check_metrics.py).
#
#   scripts/check_metrics.sh [NETCAP_BIN]
#
# Needs root (live capture) and the Debian packages prometheus (prometheus,
# promtool), installed by scripts/setup.sh --test. Without root it is skipped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
netcap=${1:-$root/target/release/netcap}
[ -x "$netcap" ] || { echo "not an executable: $netcap" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
    echo "check_metrics: skipped: live capture needs root" >&2
    exit 0
fi
exec python3 "$root/scripts/check_metrics.py" "$netcap"
