"""Comparison of the package's output with `netcap dump --json` (used by
check_against_dump.py, and tested by test_dumpcheck.py to fail on wrong values)."""
from __future__ import annotations

import json
import math

from netcap._convert import epoch_micros, rfc3339


def line_problems(ours: list[str], theirs: list[str], limit: int = 5) -> list[str]:
    """Differences between two lists of JSON lines (byte-identical wanted)."""
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"python printed {len(ours)} lines, dump {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs), 1):
        if a == b:
            continue
        what = "differs only in formatting" if json.loads(a) == json.loads(b) else "differs"
        problems.append(f"line {i} {what}:\n  python: {a}\n  dump:   {b}")
        if len(problems) >= limit:
            break
    return problems


def _timestamps_ns(series) -> list[int]:
    arr = series.array
    if hasattr(arr, "asi8"):
        return [int(v) for v in arr.asi8]
    return [t.value for t in series]


def _same(got, want) -> bool:
    """A DataFrame cell against a parsed dump value, types included (an int
    column that became float, say, differs)."""
    if want is None:  # an absent sub-message, or a NaN or infinite double
        return got is None or (type(got) is float and not math.isfinite(got))
    if type(want) in (bool, int, float, str):
        return type(got) is type(want) and got == want
    return got == want  # dicts and lists: the values of netcap.to_dict


def frame_problems(df, records: list[dict], records_utc: list[dict] | None = None,
                   limit: int = 5) -> list[str]:
    """Differences between a DataFrame from `netcap.to_pandas` and the parsed
    lines of `netcap dump --json` (and of `--json --utc`, whose timestamps
    have nanoseconds, if given), over every row and column."""
    problems = []
    if len(df) != len(records):
        return [f"DataFrame has {len(df)} rows, dump printed {len(records)} records"]
    if not records:
        return problems
    want_cols = list(records[0])
    if list(df.columns) != want_cols:
        return [f"columns {list(df.columns)} differ from dump's {want_cols}"]
    for col in want_cols:
        s = df[col]
        dtype = str(s.dtype)
        if dtype.startswith("datetime64"):
            if dtype != "datetime64[ns, UTC]":
                problems.append(f"{col}: dtype {dtype}, expected datetime64[ns, UTC]")
            ns = _timestamps_ns(s)
            got = [epoch_micros(v) for v in ns]
            want = [r[col] for r in records]
            if records_utc is not None:
                got += [rfc3339(v) for v in ns]
                want += [r[col] for r in records_utc]
        else:
            got = s.tolist()
            want = [r[col] for r in records]
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if not _same(g, w)]
        if bad:
            i = bad[0]
            row = i % len(records)
            problems.append(
                f"{col}: {len(bad)} values differ, first in row {row}: "
                f"DataFrame {got[i]!r}, dump {want[i]!r}"
            )
        if len(problems) >= limit:
            break
    return problems


_KIND_DTYPES = {
    "int32": "int32", "sint32": "int32", "sfixed32": "int32",
    "int64": "int64", "sint64": "int64", "sfixed64": "int64",
    "uint32": "uint32", "fixed32": "uint32",
    "uint64": "uint64", "fixed64": "uint64",
    "double": "float64", "float": "float32", "bool": "bool",
    "timestamp (int64 ns)": "datetime64[ns, UTC]",
}


def dtype_problems(df, fields: list[tuple[str, str]]) -> list[str]:
    """The DataFrame's dtypes against the field kinds `netcap dump --fields`
    prints (name, kind): numbers keep their width and signedness, timestamps
    are datetime64[ns, UTC], strings and bytes strings, the rest objects."""
    problems = []
    for name, kind in fields:
        got = str(df[name].dtype)
        if kind.startswith("repeated "):
            want = {"object"}
        elif kind in _KIND_DTYPES:
            want = {_KIND_DTYPES[kind]}
        elif kind in ("string", "bytes"):
            want = {"object", "str", "string"}  # pandas 2: object, pandas 3: str
        else:  # a message (dicts) or an enum (names)
            want = {"object", "str", "string"}
        if got not in want:
            problems.append(f"{name} ({kind}): dtype {got}, expected {' or '.join(sorted(want))}")
    return problems
