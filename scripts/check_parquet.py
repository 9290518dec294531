"""Reads Netcap's Parquet files with DuckDB, pyarrow and pandas and compares
them with `netcap dump --json` on the same records.

    python scripts/check_parquet.py NETCAP_BIN CAPTURE...

Each capture is run through `netcap capture --format parquet --entropy` and
`netcap capture --no-compress --entropy`. For every record type written, the
three readers must see as many rows as dump prints, and the first 50 rows and
the last 5 must hold the same values, field by field. The Netcap header in the
Parquet key-value metadata must match `netcap dump --header`, and DuckDB
counts every type's rows over all captures at once with a glob.

Normalisation of what the readers return to dump's JSON form:
* timestamps (`Timestamp*` fields, Parquet TIMESTAMP(NANOS, UTC)): pyarrow
  and pandas give pandas Timestamps (nanoseconds; pandas gives the ones
  nested in structs as integer nanoseconds), DuckDB (TIMESTAMPTZ_NS) Python
  datetimes (microseconds); all become dump's `seconds.microseconds` text
  (truncated below the microsecond, as dump does). The nanoseconds
  themselves are compared by the Rust tests (crates/netcap/tests/parquet.rs);
* bytes: lowercase hex, as dump prints them;
* enums are strings in both (the value's name);
* floats: NaN is null in dump's JSON; other values compare exactly;
* numpy scalars and arrays (pandas) become Python ints, floats and lists.

So that the comparison cannot silently pass, every run also checks that a
deliberately altered value is reported as a difference.
"""

import datetime
import glob
import json
import math
import os
import subprocess
import sys
import tempfile

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HEAD, TAIL = 50, 5
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def run(cmd):
    # A fixed creation time: the two captures of each input must have the same header.
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def micros_text(us):
    return f"{us // 10**6}.{us % 10**6:06d}"


def ts_text(v, micros_only=False):
    """A timestamp value from any reader as dump's seconds.microseconds."""
    if isinstance(v, pd.Timestamp):
        return micros_text(v.value // 1000)
    if isinstance(v, np.datetime64):
        return micros_text(int(v.astype("datetime64[ns]").astype(np.int64)) // 1000)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        # pandas gives timestamps nested in structs as integer nanoseconds.
        return micros_text(int(v) // 1000)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return micros_text((v - EPOCH) // datetime.timedelta(microseconds=1))
    raise TypeError(f"not a timestamp: {v!r}")


def norm(v, t):
    """A value of Arrow type `t` from any reader in dump's JSON form."""
    if v is None:
        return None
    if pa.types.is_timestamp(t):
        return ts_text(v)
    if pa.types.is_struct(t):
        return {t.field(i).name: norm(v[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [norm(x, t.value_type) for x in list(v)]
    if pa.types.is_binary(t):
        return bytes(v).hex()
    if isinstance(v, np.generic):
        v = v.item()
    if pa.types.is_floating(t):
        return None if math.isnan(v) else float(v)
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_integer(t):
        return int(v)
    return v


def diff(a, b, path=""):
    """The first difference between two JSON-like values, or None. Types
    matter: 1 and 1.0 and True are different values here."""
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} elements vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def sample(n):
    """Row numbers compared: the first HEAD and the last TAIL."""
    return sorted(set(range(min(n, HEAD))) | set(range(max(0, n - TAIL), n)))


def pyarrow_rows(path, schema, rows):
    table = pq.read_table(path)
    lists = {name: table.column(name).to_pylist() for name in schema.names}
    return table.num_rows, [{f.name: norm(lists[f.name][i], f.type) for f in schema} for i in rows]


def pandas_rows(path, schema, rows):
    df = pd.read_parquet(path)
    # Column-wise: a row of a frame would upcast its values to one dtype.
    cols = {f.name: df[f.name].tolist() for f in schema}
    return len(df), [{f.name: norm(cols[f.name][i], f.type) for f in schema} for i in rows]


def duckdb_rows(con, path, schema, rows):
    n = con.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
    # file_row_number: the row's position in the file, so that the sample is
    # the same rows whatever order DuckDB scans in.
    rel = con.execute(
        f"SELECT * EXCLUDE (file_row_number) FROM read_parquet('{path}', file_row_number = true) "
        f"WHERE file_row_number IN ({','.join(map(str, rows)) or '-1'}) ORDER BY file_row_number"
    )
    names = [d[0] for d in rel.description]
    if names != schema.names:
        raise RuntimeError(f"DuckDB columns {names} vs {schema.names}")
    got = [{f.name: norm(v, f.type) for f, v in zip(schema, r)} for r in rel.fetchall()]
    return n, got


def check_file(netcap, con, ncap_file, pq_file):
    """Problems found comparing one record type's Parquet file with dump."""
    problems = []
    dumped = [json.loads(l) for l in run([netcap, "dump", "-r", ncap_file, "--json"]).splitlines()]
    rows = sample(len(dumped))
    want = [dumped[i] for i in rows]
    schema = pq.read_schema(pq_file)

    # The header in the key-value metadata.
    meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(pq_file).metadata or {}).items()}
    head = dict(l.split(":", 1) for l in run([netcap, "dump", "-r", ncap_file, "--header"]).splitlines())
    head = {k.strip(): v.strip() for k, v in head.items()}
    created = int(meta.get("netcap.created", "-1"))
    for key, got, exp in [
        ("netcap.type", meta.get("netcap.type"), head["Type"]),
        ("netcap.version", meta.get("netcap.version"), head["Version"]),
        ("netcap.input_source", meta.get("netcap.input_source"), head["InputSource"]),
        ("netcap.created", micros_text(created // 1000), head["Created"]),
    ]:
        if got != exp:
            problems.append(f"metadata {key}: {got!r} vs dump --header {exp!r}")

    readers = [
        ("pyarrow", lambda: pyarrow_rows(pq_file, schema, rows)),
        ("pandas", lambda: pandas_rows(pq_file, schema, rows)),
        ("duckdb", lambda: duckdb_rows(con, pq_file, schema, rows)),
    ]
    results = {}
    for name, read in readers:
        n, got = read()
        results[name] = got
        if n != len(dumped):
            problems.append(f"{name}: {n} rows, dump {len(dumped)}")
            continue
        for i, g, w in zip(rows, got, want):
            d = diff(g, w)
            if d:
                problems.append(f"{name} row {i}: {d}")
                break
    return problems, len(rows), results.get("pyarrow", []), want


def must_fail(got, want):
    """A value altered in a row that matched must be reported."""
    if not got:
        return
    row = json.loads(json.dumps(got[0]))
    key = next(iter(row))
    row[key] = "altered" if row[key] != "altered" else "again"
    if diff(row, want[0]) is None:
        raise SystemExit("check_parquet: an altered value was not reported: the comparison is broken")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    netcap, captures = os.path.abspath(sys.argv[1]), sys.argv[2:]
    con = duckdb.connect()
    failed = passed = compared = 0
    types = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, cap in enumerate(captures):
            base = os.path.basename(cap)
            pq_dir = os.path.join(tmp, "parquet", f"{n:03d}")
            ncap_dir = os.path.join(tmp, "ncap", f"{n:03d}")
            run([netcap, "capture", "-q", "--entropy", "--format", "parquet", "-r", cap, "-o", pq_dir])
            run([netcap, "capture", "-q", "--entropy", "--no-compress", "-r", cap, "-o", ncap_dir])
            ncap_files = sorted(glob.glob(os.path.join(ncap_dir, "*.ncap")))
            pq_files = sorted(glob.glob(os.path.join(pq_dir, "*.parquet")))
            names = [os.path.basename(f)[: -len(".ncap")] for f in ncap_files]
            if [os.path.basename(f)[: -len(".parquet")] for f in pq_files] != names:
                print(f"FAIL {base}: parquet files {pq_files} vs record files {ncap_files}")
                failed += 1
                continue
            bad = failed
            for name, ncap_file, pq_file in zip(names, ncap_files, pq_files):
                try:
                    problems, k, got, want = check_file(netcap, con, ncap_file, pq_file)
                    must_fail(got, want)
                except Exception as e:  # a reader that cannot read the file at all
                    problems, k = [f"{type(e).__name__}: {e}"], 0
                compared += k
                count = int(con.execute(f"SELECT count(*) FROM '{pq_file}'").fetchone()[0])
                types[name] = types.get(name, 0) + count
                if problems:
                    failed += 1
                    print(f"FAIL {base} {name}:\n  " + "\n  ".join(problems[:5]))
                else:
                    passed += 1
            if failed == bad:
                print(f"ok   {base}: {len(names)} record types", flush=True)

        # DuckDB over every capture's files of one type at once, with a glob.
        for name, total in sorted(types.items()):
            pattern = os.path.join(tmp, "parquet", "*", f"{name}.parquet")
            n = con.execute(f"SELECT count(*) FROM '{pattern}'").fetchone()[0]
            if n != total:
                print(f"FAIL glob {name}: {n} rows, files hold {total}")
                failed += 1
            else:
                passed += 1
    print(f"{len(types)} record types, {sum(types.values())} rows, {compared} rows compared "
          f"with pyarrow, pandas and DuckDB against dump --json in {len(captures)} captures")
    print(f"check_parquet: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
