#!/usr/bin/env bash
# Installs the Python package into a fresh virtual environment and checks it
# against `netcap dump`:
#
#   python/tests/check.sh NETCAP_BIN CAPTURE...
#
# 1. python3 -m venv in a temp folder; pip install './python[pandas]' pytest
#    (the package as a user installs it, not the source tree);
# 2. the unit tests (python/tests/test_*.py: codecs, damaged files, DataFrames);
# 3. `netcap capture --entropy` of every CAPTURE, gzip, zstd and uncompressed,
#    then python/tests/check_against_dump.py on every record file: the
#    package's `python -m netcap dump` prints the bytes of `netcap dump --json`
#    (gzip files also with --utc), headers agree, `netcap.to_pandas(folder)`
#    holds every value of every record type with the dtypes of the field
#    kinds, and cut copies of the largest files give the records netcap dump
#    prints before its error;
# 4. examples/python/summary.py runs.
# Exits non-zero on any failure. Needs python3 with venv, and the network (or
# a pip cache/index) for protobuf, zstandard, pandas and pytest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkg=$(cd "$here/.." && pwd)

if [ $# -lt 2 ]; then
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
netcap=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
[ -x "$netcap" ] || { echo "not an executable: $netcap" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "python: installing the package into a fresh venv" >&2
python3 -m venv "$tmp/venv"
py=$tmp/venv/bin/python
# A copy of the package folder, so that building leaves no build/ or
# *.egg-info behind in the repository.
cp -r "$pkg" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/src/*.egg-info
"$py" -m pip install --quiet --disable-pip-version-check "$tmp/src[pandas]" pytest
"$py" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -Ei '^(netcap|protobuf|zstandard|pandas|numpy) ' | tr -s ' ' | tr '\n' ' ' >&2
echo >&2

echo "python: unit tests" >&2
(cd "$tmp" && "$py" -m pytest -q -p no:cacheprovider "$here")

n=0
gz=() zst=() plain=()
for input in "$@"; do
    n=$((n + 1))
    for codec in gzip zstd none; do
        out=$tmp/out/$n-$codec
        "$netcap" capture -q --entropy --compression "$codec" -r "$input" -o "$out" >"$tmp/capture.log" 2>&1 || {
            cat "$tmp/capture.log" >&2
            echo "FAIL: netcap capture --compression $codec -r $input" >&2
            exit 1
        }
    done
    gz+=("$tmp/out/$n-gzip") zst+=("$tmp/out/$n-zstd") plain+=("$tmp/out/$n-none")
done
echo "python: captured $n inputs (gzip, zstd, uncompressed)" >&2

cd "$tmp"
echo "python: .ncap.gz files" >&2
"$py" "$here/check_against_dump.py" --utc --pandas --damage "$netcap" "${gz[@]}"
echo "python: .ncap.zst files" >&2
"$py" "$here/check_against_dump.py" --pandas --damage "$netcap" "${zst[@]}"
echo "python: .ncap files" >&2
"$py" "$here/check_against_dump.py" --damage "$netcap" "${plain[@]}"
echo "python: examples/python/summary.py" >&2
"$py" "$pkg/../examples/python/summary.py" "${gz[0]}" >"$tmp/summary.txt"
grep -q ' records  from ' "$tmp/summary.txt" || { cat "$tmp/summary.txt"; echo "FAIL: summary.py" >&2; exit 1; }
echo "python: all checks passed" >&2
