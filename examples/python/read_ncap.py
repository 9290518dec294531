#!/usr/bin/env python3
"""Read a Netcap .ncap / .ncap.gz / .ncap.zst file and print its records as JSON lines.

    python3 examples/python/read_ncap.py out/TCP.ncap.gz           # records
    python3 examples/python/read_ncap.py out/TCP.ncap.zst --header # header only

The output is the same as `netcap dump -r FILE --json`. Needs the pip packages
`protobuf` and `grpcio-tools`, and for .ncap.zst files before Python 3.14 (whose
standard library has `compression.zstd`) `zstandard`. See docs/file-format.md
for the format itself.
"""
import argparse, gzip, json, math, os, signal, sys, tempfile
from decimal import Decimal

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import DecodeError

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "..", "crates", "netcap-schema", "proto", "netcap.proto")
MAX_RECORD_LEN = 64 << 20  # the Rust reader treats a longer length prefix as corruption


def load_schema(proto_path):
    """Compile netcap.proto at run time into a descriptor pool.

    Choice: grpcio-tools ships protoc as a Python module, so no system protoc is
    needed. We ask it for a descriptor set (not generated _pb2 code) and build the
    message classes from that, so the gencode/runtime version checks never apply."""
    try:
        from grpc_tools import protoc
    except ImportError:
        sys.exit("read_ncap.py needs grpcio-tools: python3 -m pip install grpcio-tools")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "netcap.desc")
        d, name = os.path.split(os.path.abspath(proto_path))
        if protoc.main(["protoc", "-I" + d, "--descriptor_set_out=" + out, name]) != 0:
            sys.exit(f"protoc failed on {proto_path}")
        fds = descriptor_pb2.FileDescriptorSet.FromString(open(out, "rb").read())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return pool


def frames(f):
    """Yield the varint-length-delimited frames of a stream (header first)."""
    while True:
        n, shift, first = 0, 0, True
        while True:  # protobuf base-128 varint, least significant group first
            b = f.read(1)
            if not b:
                if first:
                    return  # clean end of file
                raise EOFError("file ends inside a length prefix")
            first = False
            n |= (b[0] & 0x7F) << shift
            if b[0] < 0x80:
                break
            shift += 7
            if shift > 63:
                raise ValueError("invalid length prefix")
        if n > MAX_RECORD_LEN:
            raise ValueError(f"record length {n} exceeds {MAX_RECORD_LEN}")
        data = f.read(n)
        if len(data) != n:
            raise EOFError("file ends inside a record (truncated)")
        yield data


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a zstd frame; a skippable frame starts 5? 2a 4d 18


def zstd_decompressor():
    """A new one-frame zstd decompressor (decompress(), eof, unused_data): the
    standard library's from Python 3.14 on, else the `zstandard` package's."""
    try:
        from compression.zstd import ZstdDecompressor  # Python 3.14+
        return ZstdDecompressor()
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        sys.exit("reading .ncap.zst needs Python 3.14+ or zstandard: python3 -m pip install zstandard")
    return zstandard.ZstdDecompressor().decompressobj()


class ZstdStream:
    """The decompressed stream of a zstd file, frame after frame, as a file
    with read(n). Unlike zstandard's stream_reader, which ends quietly, a
    file that ends inside a frame raises EOFError (truncation), and damaged
    data (a bad checksum, say) raises ValueError."""

    def __init__(self, f):
        self.f, self.d, self.fed = f, None, False
        self.chunk, self.pos = b"", 0

    def _refill(self):
        """Decompresses more input into self.chunk; False at the clean end."""
        while True:
            leftover = b""
            if self.d is not None and self.d.eof:  # a frame ended: maybe another follows
                leftover, self.d = self.d.unused_data, None
            data = leftover or self.f.read(1 << 16)
            if not data:
                if self.d is not None and self.fed:
                    raise EOFError("the zstd frame is cut short (truncated)")
                return False
            if self.d is None:
                self.d, self.fed = zstd_decompressor(), False
            try:
                out = self.d.decompress(data)
            except Exception as e:  # zstandard.ZstdError / compression.zstd.ZstdError
                raise ValueError(f"damaged zstd data: {e}") from None
            self.fed = True
            if out:
                self.chunk, self.pos = out, 0
                return True

    def read(self, n):
        parts = []
        while n > 0:
            if self.pos == len(self.chunk) and not self._refill():
                break
            part = self.chunk[self.pos:self.pos + n]
            self.pos += len(part)
            n -= len(part)
            parts.append(part)
        return b"".join(parts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def open_stream(path):
    """The decompressed stream of a record file; compression is detected by
    content (gzip or zstd magic), as `netcap dump` does."""
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic.startswith(GZIP_MAGIC):
        return gzip.open(path, "rb")
    if magic == ZSTD_MAGIC or (len(magic) == 4 and magic[0] >> 4 == 5 and magic[1:] == b"\x2a\x4d\x18"):
        return ZstdStream(open(path, "rb"))
    return open(path, "rb")


def json_float(x):
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


def value(v, fd):
    """One (non-repeated) value as Python/JSON data."""
    if fd.type == FD.TYPE_MESSAGE:
        return message(v)
    if fd.type == FD.TYPE_BYTES:
        return v.hex()
    if fd.type == FD.TYPE_ENUM:
        ev = fd.enum_type.values_by_number.get(v)
        return ev.name if ev else str(v)
    if fd.cpp_type == FD.CPPTYPE_INT64 and fd.name.startswith("Timestamp"):
        return f"{v // 10**9}.{v % 10**9 // 1000:06d}"  # ns -> seconds.micros, truncated
    return v


def message(msg):
    """All fields in schema order; an unset singular sub-message is null."""
    out = {}
    for fd in msg.DESCRIPTOR.fields:
        if fd.is_repeated:
            out[fd.name] = [value(v, fd) for v in getattr(msg, fd.name)]
        elif fd.type == FD.TYPE_MESSAGE and not msg.HasField(fd.name):
            out[fd.name] = None
        else:
            out[fd.name] = value(getattr(msg, fd.name), fd)
    return out


def dumps(v):
    """Compact JSON like serde_json (json.dumps would print floats differently)."""
    if isinstance(v, dict):
        return "{" + ",".join(dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(dumps, v)) + "]"
    if isinstance(v, float):
        return json_float(v)
    return json.dumps(v, ensure_ascii=False)  # str, int, bool, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--header", action="store_true", help="print the header and exit")
    ap.add_argument("--proto", default=PROTO, help="path of netcap.proto")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends us quietly
    pool = load_schema(args.proto)
    cls = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName("netcap." + name))

    f = open_stream(args.file)
    count = 0
    try:
        with f:
            it = frames(f)
            header = cls("Header").FromString(next(it))  # StopIteration: empty file
            if args.header:
                print(dumps(message(header)))
                return
            # Type enum value `NC_TCP` names the message `TCP` of every record.
            ev = pool.FindEnumTypeByName("netcap.Type").values_by_number.get(header.Type)
            if ev is None or header.Type == 0:
                sys.exit(f"{args.file}: unknown record type {header.Type}")
            record_cls = cls(ev.name[len("NC_"):])
            for data in it:
                sys.stdout.write(dumps(message(record_cls.FromString(data))) + "\n")
                count += 1
    except (StopIteration, EOFError, ValueError, OSError, DecodeError) as e:
        # Records before the damage have been printed, as `netcap dump` does.
        sys.stdout.flush()
        sys.exit(f"{args.file}: damaged after {count} records: {str(e) or 'empty file'}")


if __name__ == "__main__":
    main()
