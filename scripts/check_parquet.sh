#!/usr/bin/env bash
# Reads the Parquet files of every test capture with DuckDB, pyarrow and
# pandas and compares them with `netcap dump --json` (see check_parquet.py).
#
#   scripts/check_parquet.sh [NETCAP_BIN] [CAPTURE...]
#
# Defaults: target/release/netcap (built by the caller; this builds nothing)
# and every capture of testdata/pcaps and testdata/streams.
# Python packages go into the venv at $NETCAP_PY_VENV (default
# target/py-venv), installed on the first run only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
netcap=${1:-$root/target/release/netcap}
[ $# -gt 0 ] && shift
[ -x "$netcap" ] || { echo "not an executable: $netcap" >&2; exit 2; }
if [ $# -eq 0 ]; then
    set -- "$root"/testdata/pcaps/*.pcap "$root"/testdata/pcaps/*.pcapng "$root"/testdata/streams/*.pcap
fi

venv=${NETCAP_PY_VENV:-$root/target/py-venv}
py=$venv/bin/python
if ! "$py" -c 'import duckdb, pyarrow, pandas' 2>/dev/null; then
    echo "setting up Python dependencies in $venv" >&2
    [ -x "$py" ] || python3 -m venv "$venv"
    "$py" -m pip install --quiet --disable-pip-version-check duckdb pyarrow pandas
fi
exec "$py" "$root/scripts/check_parquet.py" "$netcap" "$@"
