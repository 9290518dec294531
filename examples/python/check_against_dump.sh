#!/usr/bin/env bash
# Checks that examples/python/read_ncap.py prints exactly what `netcap dump --json`
# prints, for every record file.
#
#   examples/python/check_against_dump.sh NETCAP_BIN INPUT...
#
# Each INPUT is a capture file (run through `netcap capture $NETCAP_CAPTURE_ARGS`,
# default `--entropy` so that doubles are exercised, into a temp dir), a directory
# of record files, or a single .ncap/.ncap.gz/.ncap.zst file. Builds nothing.
# NETCAP_CAPTURE_ARGS="--entropy --compression zstd" checks .ncap.zst files.
# Every record line is parsed as JSON on both sides and compared as objects; the raw
# lines must also be byte-identical (a formatting-only difference is reported as
# such). Exits non-zero on any difference.
#
# Python dependencies go into a venv at $NETCAP_PY_VENV (default target/py-venv),
# created and filled on the first run only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -lt 2 ]; then
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
netcap=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
[ -x "$netcap" ] || { echo "not an executable: $netcap" >&2; exit 2; }

venv=${NETCAP_PY_VENV:-$root/target/py-venv}
py=$venv/bin/python
if ! "$py" -c 'import google.protobuf, grpc_tools, zstandard' 2>/dev/null; then
    echo "setting up Python dependencies in $venv" >&2
    python3 -m venv "$venv"
    "$py" -m pip install --quiet --disable-pip-version-check protobuf grpcio-tools zstandard
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Collect the record files to check.
files=()
n=0
for input in "$@"; do
    if [ -d "$input" ]; then
        found=("$input"/*.ncap "$input"/*.ncap.gz "$input"/*.ncap.zst)
    elif [[ $input == *.ncap || $input == *.ncap.gz || $input == *.ncap.zst ]]; then
        found=("$input")
    else
        n=$((n + 1))
        out=$tmp/capture-$n
        # shellcheck disable=SC2086 # word splitting of the flags is intended
        "$netcap" capture -q ${NETCAP_CAPTURE_ARGS---entropy} -r "$input" -o "$out" >"$tmp/capture.log" 2>&1 || {
            cat "$tmp/capture.log" >&2
            echo "FAIL: netcap capture -r $input" >&2
            exit 1
        }
        echo "captured $input" >&2
        found=("$out"/*.ncap "$out"/*.ncap.gz "$out"/*.ncap.zst)
    fi
    for f in "${found[@]}"; do
        [ -f "$f" ] && files+=("$f")
    done
done
[ ${#files[@]} -gt 0 ] || { echo "no record files found" >&2; exit 1; }

"$py" - "$netcap" "$here/read_ncap.py" "${files[@]}" <<'EOF'
import json, subprocess, sys

netcap, reader, files = sys.argv[1], sys.argv[2], sys.argv[3:]
failed = total = 0

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout.splitlines()

for path in files:
    try:
        ours = run([sys.executable, reader, path])
        theirs = run([netcap, "dump", "-r", path, "--json"])
        # Header: the Python JSON header against `netcap dump --header`.
        h = json.loads(run([sys.executable, reader, "--header", path])[0])
        text = dict(l.split(":", 1) for l in run([netcap, "dump", "-r", path, "--header"]))
        text = {k.strip(): v.strip() for k, v in text.items()}
        c = h["Created"]
        want = {"Type": "NC_" + text["Type"], "Version": text["Version"],
                "InputSource": text["InputSource"],
                "Created": f"{c // 10**9}.{c % 10**9 // 1000:06d}",
                "ContainsPayloads": text["ContainsPayloads"] == "true"}
        got = dict(h, Created=want["Created"])
        if got != want:
            raise RuntimeError(f"header differs: python {got} vs dump {want}")
    except RuntimeError as e:
        print(f"FAIL {path}: {e}")
        failed += 1
        continue
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"python printed {len(ours)} records, dump {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs), 1):
        if a == b:
            continue
        if json.loads(a) == json.loads(b):
            problems.append(f"record {i} differs only in formatting:\n  python: {a}\n  dump:   {b}")
        else:
            problems.append(f"record {i} differs:\n  python: {a}\n  dump:   {b}")
        if len(problems) >= 5:
            break
    total += min(len(ours), len(theirs))
    if problems:
        failed += 1
        print(f"FAIL {path}: " + "\n".join(problems))
    else:
        print(f"ok   {path}: {len(ours)} records identical")

print(f"{total} records compared in {len(files)} files")
print(f"check_against_dump: {len(files) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
