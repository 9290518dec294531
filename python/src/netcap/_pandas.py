"""Record files as pandas DataFrames."""
from __future__ import annotations

import operator
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


BATCH = 1 << 16  # records converted at a time, to bound the Python objects held


class _Columns:
    """The columns of a DataFrame, filled batch by batch of messages. Singular
    fields are read with one attrgetter call per record and converted a whole
    column at a time (numbers into numpy arrays); repeated and message fields
    go through the converter of netcap.to_dict."""

    def __init__(self, fds):
        self.fds = fds
        self.flat = [fd for fd in fds if not is_repeated(fd) and fd.type != FD.TYPE_MESSAGE]
        names = [fd.name for fd in self.flat]
        get = operator.attrgetter(*names) if names else None
        self.get = (lambda m: (get(m),)) if len(names) == 1 else get
        self.nested = [(fd, field_getter(fd)) for fd in fds if fd not in self.flat]
        self.chunks = {fd.name: [] for fd in fds}

    def add(self, batch):
        if not batch:
            return
        if self.flat:
            for fd, col in zip(self.flat, zip(*map(self.get, batch))):
                self.chunks[fd.name].append(_convert(fd, col))
        for fd, get in self.nested:
            self.chunks[fd.name].append([get(m) for m in batch])

    def frame(self, pd):
        data = {}
        for fd in self.fds:
            chunks = self.chunks.pop(fd.name)
            if fd in self.flat and (is_timestamp(fd) or fd.type in _DTYPES):
                dtype = "int64" if is_timestamp(fd) else _DTYPES[fd.type]
                arr = np.concatenate(chunks) if chunks else np.empty(0, dtype=dtype)
                if is_timestamp(fd):
                    # the exact nanoseconds, whatever resolution pandas would infer
                    s = pd.Series(arr.view("datetime64[ns]")).dt.tz_localize("UTC")
                else:
                    s = pd.Series(arr, dtype=dtype)
            else:
                values = [v for c in chunks for v in c]
                if fd in self.flat:  # strings, bytes as hex, enum names
                    s = pd.Series(values, dtype="str")
                else:  # lists, dicts (None when absent)
                    s = pd.Series(values, dtype=object)
            data[fd.name] = s
        return pd.DataFrame(data, columns=[fd.name for fd in self.fds])


def _convert(fd, col):
    """A tuple of singular values of field fd as a numpy array or a list."""
    if is_timestamp(fd):
        return np.array(col, dtype="int64")
    dtype = _DTYPES.get(fd.type)
    if dtype is not None:
        return np.array(col, dtype=dtype)
    if fd.type == FD.TYPE_BYTES:
        return [b.hex() for b in col]
    if fd.type == FD.TYPE_ENUM:
        names = {v.number: v.name for v in fd.enum_type.values}
        return [names.get(v) or str(v) for v in col]
    return list(col)


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
        cols = _Columns(fds)
        batch = []
        try:
            for msg in f:
                batch.append(msg)
                if len(batch) == BATCH:
                    cols.add(batch)
                    batch = []
        except NetcapError as e:
            if on_error != "warn":
                raise
            warnings.warn(f"{e}; the DataFrame holds the {e.records} records before", stacklevel=3)
        cols.add(batch)
        df = cols.frame(pd)
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
