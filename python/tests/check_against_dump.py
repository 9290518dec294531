"""Checks the installed netcap package against `netcap dump` on record files.

    python check_against_dump.py [--utc] [--pandas] [--damage] NETCAP_BIN DIR...

For every record file in each DIR (*.ncap, *.ncap.gz, *.ncap.zst):
* `python -m netcap dump FILE` (run in this process) prints exactly the bytes
  of `netcap dump -r FILE --json` (and with --utc, of `--json --utc`);
* its `--header` JSON agrees with `netcap dump --header`;
* with --pandas, `netcap.to_pandas(DIR)` has a DataFrame per record type whose
  rows and every value equal the dump's records (timestamps to the nanosecond
  through `--json --utc`), and `netcap.to_pandas(FILE)` the same row count;
* with --damage, copies of a few files cut at several places: the package
  yields exactly the records `netcap dump` prints before its error, then
  raises an error that names the file.
Exits non-zero on any difference.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import netcap
from netcap.__main__ import main as cli

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dumpcheck import dtype_problems, frame_problems, line_problems  # noqa: E402

SUFFIXES = (".ncap", ".ncap.gz", ".ncap.zst")


def run(cmd, ok_codes=(0,)):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def ours(args):
    """Runs `python -m netcap ARGS` in this process: (exit code, lines, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(args)
    return code, out.getvalue().splitlines(), err.getvalue()


def check_file(netcap_bin, path, utc):
    problems = []
    code, lines, err = ours(["dump", path])
    if code != 0:
        return [f"python -m netcap dump failed: {err.strip()}"], None, None
    theirs = run([netcap_bin, "dump", "-r", path, "--json"]).stdout.splitlines()
    problems += line_problems(lines, theirs)
    records_utc = None
    if utc:
        code, lines_utc, err = ours(["dump", "--utc", path])
        theirs_utc = run([netcap_bin, "dump", "-r", path, "--json", "--utc"]).stdout.splitlines()
        problems += [f"--utc: {p}" for p in line_problems(lines_utc, theirs_utc)]
        records_utc = [json.loads(line) for line in theirs_utc]
    # The header: our JSON against `netcap dump --header` (text).
    code, hl, err = ours(["dump", "--header", path])
    h = json.loads(hl[0])
    text = dict(line.split(":", 1) for line in run([netcap_bin, "dump", "-r", path, "--header"]).stdout.splitlines())
    text = {k.strip(): v.strip() for k, v in text.items()}
    c = h["Created"]
    want = {"Created": text["Created"], "InputSource": text["InputSource"],
            "Type": "NC_" + text["Type"], "Version": text["Version"],
            "ContainsPayloads": text["ContainsPayloads"] == "true"}
    got = dict(h, Created=f"{c // 10**9}.{c % 10**9 // 1000:06d}")
    if got != want:
        problems.append(f"header differs: python {got} vs dump {want}")
    return problems, [json.loads(line) for line in theirs], records_utc


def record_files(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(SUFFIXES))


def record_type(path):
    with netcap.open(path) as f:
        return f.type


def check_damage(netcap_bin, files, tmp):
    """Cut copies: the package must hand out exactly what netcap dump prints."""
    failed = checked = 0
    for path in files:
        data = open(path, "rb").read()
        name = os.path.basename(path)
        cuts = sorted({1, 2, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 5,
                       len(data) - 1} & set(range(1, len(data))))
        for cut in cuts:
            damaged = os.path.join(tmp, f"cut{cut}-{name}")
            with open(damaged, "wb") as f:
                f.write(data[:cut])
            p = run([netcap_bin, "dump", "-r", damaged, "--json"], ok_codes=(0, 1))
            theirs = p.stdout.splitlines()
            code, lines, err = ours(["dump", damaged])
            checked += 1
            problems = line_problems(lines, theirs, limit=2)
            if (code == 0) != (p.returncode == 0):
                problems.append(f"python exit {code}, dump exit {p.returncode}: "
                                f"{err.strip()!r} vs {p.stderr.strip()!r}")
            if code != 0 and damaged not in err:
                problems.append(f"the error does not name the file: {err.strip()!r}")
            if problems:
                failed += 1
                print(f"FAIL {path} cut at {cut}: " + "\n".join(problems))
            os.remove(damaged)
    print(f"damage: {checked} cut files, {failed} differ from netcap dump")
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--utc", action="store_true")
    ap.add_argument("--pandas", action="store_true")
    ap.add_argument("--damage", action="store_true")
    ap.add_argument("netcap")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    failed = total = nfiles = 0
    types = set()
    damage_candidates = []
    for d in a.dirs:
        by_type, by_type_utc, origin = {}, {}, {}
        for path in record_files(d):
            nfiles += 1
            try:
                problems, records, records_utc = check_file(a.netcap, path, a.utc)
            except (RuntimeError, netcap.NetcapError, OSError) as e:
                problems, records, records_utc = [str(e)], None, None
            if problems:
                failed += 1
                print(f"FAIL {path}: " + "\n".join(problems))
                continue
            name = record_type(path)
            types.add(name)
            by_type[name], by_type_utc[name], origin[name] = records, records_utc, path
            total += len(records)
            damage_candidates.append((len(records), path))
        if a.pandas and by_type:
            try:
                frames = netcap.to_pandas(d)
            except Exception as e:  # noqa: BLE001 (reported as a failure)
                failed += 1
                print(f"FAIL to_pandas({d}): {type(e).__name__}: {e}")
                continue
            if sorted(frames) != sorted(by_type):
                failed += 1
                print(f"FAIL to_pandas({d}): types {sorted(frames)}, expected {sorted(by_type)}")
            for name, df in frames.items():
                if name not in by_type:
                    continue
                problems = frame_problems(df, by_type[name], by_type_utc.get(name))
                fields = run([a.netcap, "dump", "-r", origin[name], "--fields"]).stdout.splitlines()
                problems += dtype_problems(df, [tuple(f.split("\t")) for f in fields])
                if problems:
                    failed += 1
                    print(f"FAIL to_pandas({d})[{name!r}]: " + "\n".join(problems))
            # A single file and type=: the same frames.
            name = max(by_type, key=lambda n: len(by_type[n]))
            single = [p for p in record_files(d) if record_type(p) == name][0]
            if len(netcap.to_pandas(single)) != len(by_type[name]) or \
                    len(netcap.to_pandas(d, type=name)) != len(by_type[name]):
                failed += 1
                print(f"FAIL to_pandas({single}) or to_pandas({d}, type={name!r}): row counts")
    print(f"{total} records in {nfiles} files identical to netcap dump --json"
          f"{' (and --utc)' if a.utc else ''}, {failed} failures; "
          f"{len(types)} record types: {' '.join(sorted(types))}")
    if a.pandas:
        print("to_pandas: every value of every record type checked against netcap dump")
    if a.damage:
        # The largest files of each codec, cut at several places.
        picked = {}
        for n, path in sorted(damage_candidates, reverse=True):
            codec = path.rsplit(".", 1)[-1]
            if len(picked.setdefault(codec, [])) < 3:
                picked[codec].append(path)
        with tempfile.TemporaryDirectory() as tmp:
            failed += check_damage(a.netcap, [p for ps in picked.values() for p in ps], tmp)
    print(f"check_against_dump: {'FAILED' if failed else 'ok'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
