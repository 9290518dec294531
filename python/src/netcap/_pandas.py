"""Record files as pandas DataFrames."""
from __future__ import annotations

import os
import warnings

from google.protobuf.descriptor import FieldDescriptor as FD

from ._convert import field_getter
from ._reader import RecordFile
from ._schema import is_repeated, is_timestamp
from .errors import NetcapError

# numpy dtypes of the singular scalar fields
_DTYPES = {
    FD.TYPE_INT32: "int32",
    FD.TYPE_SINT32: "int32",
    FD.TYPE_SFIXED32: "int32",
    FD.TYPE_INT64: "int64",
    FD.TYPE_SINT64: "int64",
    FD.TYPE_SFIXED64: "int64",
    FD.TYPE_UINT32: "uint32",
    FD.TYPE_FIXED32: "uint32",
    FD.TYPE_UINT64: "uint64",
    FD.TYPE_FIXED64: "uint64",
    FD.TYPE_DOUBLE: "float64",
    FD.TYPE_FLOAT: "float32",
    FD.TYPE_BOOL: "bool",
}
SUFFIXES = (".ncap", ".ncap.gz", ".ncap.zst")
np = None  # numpy, imported with pandas


def _pandas():
    global np
    try:
        import numpy as np
        import pandas
    except ImportError:
        raise ImportError(
            "to_pandas needs pandas: pip install pandas (or the package with its extra, "
            "pip install './python[pandas]')"
        ) from None
    return pandas


def _column(pd, fd, values):
    """A Series of one field's values (as gathered by field_getter)."""
    if is_repeated(fd) or fd.type == FD.TYPE_MESSAGE:
        return pd.Series(values, dtype=object)  # lists, dicts (None when absent)
    if is_timestamp(fd):
        ns = np.asarray(values, dtype="int64").view("datetime64[ns]")
        return pd.Series(ns).dt.tz_localize("UTC")  # whatever the pandas version infers
    dtype = _DTYPES.get(fd.type)
    if dtype is not None:
        return pd.Series(values, dtype=dtype)
    return pd.Series(values, dtype="str")  # strings, bytes as hex, enum names


def _frame(path, columns, on_error, pd):
    with RecordFile(path) as f:
        desc = f.descriptor
        if columns is None:
            fds = list(desc.fields)
        else:
            by_name = desc.fields_by_name
            unknown = [c for c in columns if c not in by_name]
            if unknown:
                raise KeyError(
                    f"{f.path}: {f.type} has no field {', '.join(unknown)} "
                    f"(fields: {', '.join(by_name)})"
                )
            fds = [by_name[c] for c in columns]
        getters = []
        for fd in fds:
            if is_timestamp(fd) and not is_repeated(fd):
                name = fd.name
                getters.append(lambda m, name=name: getattr(m, name))  # raw ns
            else:
                getters.append(field_getter(fd))
        cols = [[] for _ in fds]
        pairs = list(zip(cols, getters))
        try:
            for msg in f:
                for col, get in pairs:
                    col.append(get(msg))
        except NetcapError as e:
            if on_error != "warn":
                raise
            warnings.warn(f"{e}; the DataFrame holds the {e.records} records before", stacklevel=3)
        data = {fd.name: _column(pd, fd, col) for fd, col in zip(fds, cols)}
        df = pd.DataFrame(data, columns=[fd.name for fd in fds])
        df.attrs["netcap_type"] = f.type
        df.attrs["netcap_path"] = f.path
        return f.type, df


def to_pandas(path, type: str | None = None, columns=None, on_error: str = "raise"):
    """Reads a record file, or a folder of them, into pandas.

    * a file: one DataFrame, a row per record, a column per field in schema
      order (only `columns`, in that order, if given);
    * a folder: a dict of DataFrames keyed by record type ("TCP", "DNS", ...),
      from its `*.ncap`, `*.ncap.gz` and `*.ncap.zst` files (the type comes from
      each file's header); with `type="TCP"` only that type's DataFrame.

    Column types: `Timestamp*` fields are `datetime64[ns, UTC]` with the
    exact nanoseconds; integers keep their width and signedness (int32, int64,
    uint32, uint64), doubles float64, booleans bool; strings, bytes (lowercase
    hex) and enums (value names) are strings; nested messages are dicts (None
    when absent) and repeated fields lists, holding the values of
    `netcap dump --json` (`netcap.to_dict`).

    on_error="raise" (default) raises the file's `TruncatedError` or
    `CorruptError`; on_error="warn" keeps the records before the damage and
    emits a warning instead.
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f'on_error must be "raise" or "warn", not {on_error!r}')
    pd = _pandas()
    path = os.fspath(path)
    if not os.path.isdir(path):
        name, df = _frame(path, columns, on_error, pd)
        if type is not None and type != name:
            raise ValueError(f"{path} holds {name} records, not {type}")
        return df
    files = sorted(
        os.path.join(path, n)
        for n in os.listdir(path)
        if n.endswith(SUFFIXES) and os.path.isfile(os.path.join(path, n))
    )
    frames, origin = {}, {}
    for file in files:
        if type is not None:
            with RecordFile(file) as f:  # only the header
                if f.type != type:
                    continue
        name, df = _frame(file, columns, on_error, pd)
        if name in frames:
            raise ValueError(f"{path}: both {origin[name]} and {file} hold {name} records")
        frames[name], origin[name] = df, file
    if type is None:
        return dict(sorted(frames.items()))
    if type not in frames:
        raise ValueError(f"{path}: no record file holds {type} records")
    return frames[type]
