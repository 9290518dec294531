"""Records as plain Python values and JSON text, exactly as `netcap dump --json`.

* every field in schema order, defaults included;
* integers as ints, doubles as floats, booleans as bools, strings as str;
* bytes as lowercase hex;
* enums by value name (the number as a string if unknown);
* `Timestamp*` fields as the string "seconds.microseconds" (truncated), or
  RFC 3339 with nanoseconds with utc=True (`netcap dump --json --utc`);
* repeated fields as lists, nested messages as dicts (absent: None).
"""
from __future__ import annotations

import json
import math
from decimal import Decimal

from google.protobuf.descriptor import FieldDescriptor as FD

from ._schema import is_repeated, is_timestamp

_NS = 10**9


def epoch_micros(ns: int) -> str:
    """`1536669410335693999` → `"1536669410.335693"` (floor division, like tshark)."""
    return f"{ns // _NS}.{ns % _NS // 1000:06d}"


def _civil_from_days(z: int):
    """Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
    algorithm, as in the Rust code: Python's datetime stops at year 1)."""
    z += 719_468
    era = z // 146_097
    doe = z % 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def rfc3339(ns: int) -> str:
    """`0` → `"1970-01-01T00:00:00.000000000Z"`."""
    secs, nanos = divmod(ns, _NS)
    days, sod = divmod(secs, 86_400)
    y, m, d = _civil_from_days(days)
    return f"{y:04d}-{m:02d}-{d:02d}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}.{nanos:09d}Z"


def _scalar(fd: FD, utc: bool):
    """A function converting one (non-repeated) value of field fd."""
    if fd.type == FD.TYPE_MESSAGE:
        return converter(fd.message_type, utc)
    if fd.type == FD.TYPE_BYTES:
        return bytes.hex
    if fd.type == FD.TYPE_ENUM:
        names = {v.number: v.name for v in fd.enum_type.values}
        return lambda v: names.get(v) or str(v)
    if is_timestamp(fd):
        return rfc3339 if utc else epoch_micros
    return None  # the value as it is


_converters: dict = {}


def converter(desc, utc: bool = False):
    """A function turning a message of descriptor desc into a dict."""
    key = (desc.full_name, utc)
    conv = _converters.get(key)
    if conv is not None:
        return conv
    fields = []

    def conv(msg):
        return {name: get(msg) for name, get in fields}

    _converters[key] = conv  # before the fields: a recursive schema would loop
    for fd in desc.fields:
        fields.append((fd.name, field_getter(fd, utc)))
    return conv


def field_getter(fd: FD, utc: bool = False):
    """A function giving field fd of a message as a dump --json value."""
    name, f = fd.name, _scalar(fd, utc)
    if is_repeated(fd):
        if f is None:
            return lambda m: list(getattr(m, name))
        return lambda m: [f(v) for v in getattr(m, name)]
    if fd.type == FD.TYPE_MESSAGE:
        return lambda m: f(getattr(m, name)) if m.HasField(name) else None
    if f is None:
        return lambda m: getattr(m, name)
    return lambda m: f(getattr(m, name))


def to_dict(msg, utc: bool = False) -> dict:
    """A record (or header) message as a dict of `netcap dump --json` values.
    `Header.Created` is not named `Timestamp*` and stays integer nanoseconds."""
    return converter(msg.DESCRIPTOR, utc)(msg)


def json_float(x: float) -> str:
    """A double as serde_json writes it: shortest round-trip digits, fixed notation
    for decimal exponents -5..15 (`0.0`, `3.25`, `0.00001`), else `1.5e+20`/`1e-7`."""
    if not math.isfinite(x):
        return "null"
    sign, x = ("-" if math.copysign(1, x) < 0 else ""), abs(x)
    if x == 0:
        return sign + "0.0"
    _, digits, exp = Decimal(repr(x)).as_tuple()  # repr gives the shortest digits
    d = "".join(map(str, digits)).rstrip("0")
    e = exp + len(digits) - 1  # decimal exponent of the first digit
    if -5 <= e <= 15:
        if e < 0:
            return f"{sign}0.{'0' * (-e - 1)}{d}"
        if len(d) <= e + 1:
            return f"{sign}{d}{'0' * (e + 1 - len(d))}.0"
        return f"{sign}{d[:e + 1]}.{d[e + 1:]}"
    mant = d[0] + ("." + d[1:] if len(d) > 1 else "")
    return f"{sign}{mant}e{'+' if e >= 0 else '-'}{abs(e)}"


def dumps(v) -> str:
    """Compact JSON like serde_json (json.dumps writes some floats differently)."""
    if isinstance(v, dict):
        return "{" + ",".join(dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(dumps, v)) + "]"
    if isinstance(v, float):
        return json_float(v)
    return json.dumps(v, ensure_ascii=False)  # str, int, bool, None


def to_json(msg, utc: bool = False) -> str:
    """A record as one line of `netcap dump --json` (without the newline)."""
    return dumps(to_dict(msg, utc))
