"""Unit tests of the installed package on record files written here."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tracemalloc

import pytest

import netcap
from netcap import _io
from netcap._convert import epoch_micros, json_float, rfc3339

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NS = 10**9
T0 = 1536669410335693999


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def frame(data: bytes) -> bytes:
    return varint(len(data)) + data


def header(type_name="TCP", version="v0.1.0", **kw) -> bytes:
    number = netcap.pool().FindEnumTypeByName("netcap.Type").values_by_name["NC_" + type_name].number
    return netcap.message_class("Header")(Created=1700000000 * NS, InputSource="test.pcap",
                                          Type=number, Version=version, **kw).SerializeToString()


def tcp(i: int) -> bytes:
    return netcap.message_class("TCP")(Timestamp=T0 + i, SrcPort=1000 + i, DstPort=80, SeqNum=2**32 - 1,
                                       SYN=i % 2 == 1, Padding=b"\x00\xab", PayloadEntropy=i / 3,
                                       PacketNumber=2**64 - 1 - i).SerializeToString()


def compress(stream: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(stream, mtime=0)
    if codec == "zstd":
        import zstandard
        return zstandard.ZstdCompressor(write_checksum=True).compress(stream)
    return stream


def write(tmp_path, stream: bytes, codec="none", name="TCP.ncap") -> str:
    p = tmp_path / name
    p.write_bytes(compress(stream, codec))
    return str(p)


CODECS = ["none", "gzip", "zstd"]
STREAM = frame(header()) + b"".join(frame(tcp(i)) for i in range(5))


@pytest.mark.parametrize("codec", CODECS)
def test_records_of_every_codec_whatever_the_name(tmp_path, codec):
    path = write(tmp_path, STREAM, codec, name="misnamed.txt")
    with netcap.open(path) as f:
        assert f.type == "TCP"
        assert f.header.InputSource == "test.pcap" and f.header.Version == "v0.1.0"
        recs = list(f)
        assert f.records_read == 5
    assert [r.SrcPort for r in recs] == [1000, 1001, 1002, 1003, 1004]
    assert recs[0].PacketNumber == 2**64 - 1
    assert recs[3].Timestamp == T0 + 3
    assert [r.SerializeToString() for r in recs] == [tcp(i) for i in range(5)]
    assert netcap.read_header(path).Type == 38


def test_dicts_have_dump_values(tmp_path):
    path = write(tmp_path, STREAM, "gzip")
    d = list(netcap.records(path, as_dict=True))[1]
    assert d["Timestamp"] == "1536669410.335694"  # ...693999 + 1 ns, truncated to µs
    assert d["Padding"] == "00ab"
    assert d["SYN"] is True and d["FIN"] is False
    assert d["Options"] == []
    assert d["PayloadEntropy"] == 1 / 3
    assert d["SeqNum"] == 2**32 - 1 and d["PacketNumber"] == 2**64 - 2
    assert list(d)[:3] == ["Timestamp", "SrcPort", "DstPort"]  # schema order
    u = list(netcap.records(path, as_dict=True, utc=True))[0]
    assert u["Timestamp"] == "2018-09-11T12:36:50.335693999Z"
    line = netcap.to_json(next(iter(netcap.open(path))))
    assert line.startswith('{"Timestamp":"1536669410.335693","SrcPort":1000,') and "\n" not in line


def test_nested_and_absent_messages():
    ipv6 = netcap.message_class("IPv6")()
    assert netcap.to_dict(ipv6)["HopByHop"] is None
    ipv6.HopByHop.Timestamp = -1
    ipv6.ExtensionHeaders.add(NextHeader=6)
    d = netcap.to_dict(ipv6)
    assert d["HopByHop"]["Timestamp"] == "-1.999999"
    assert d["ExtensionHeaders"][0]["NextHeader"] == 6


def test_value_rendering_matches_serde_json_and_the_rust_time_functions():
    cases = [(0.0, "0.0"), (-0.0, "-0.0"), (3.25, "3.25"), (1e-5, "0.00001"), (1e-7, "1e-7"),
             (1.5e20, "1.5e+20"), (1e15, "1000000000000000.0"), (1e16, "1e+16"),
             (1.717134375198805, "1.717134375198805"), (float("nan"), "null"),
             (float("inf"), "null")]
    for x, want in cases:
        assert json_float(x) == want, x
    assert epoch_micros(1_499_255_023_048_884_999) == "1499255023.048884"
    assert epoch_micros(0) == "0.000000" and epoch_micros(-1) == "-1.999999"
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"
    assert rfc3339(1_499_255_023_048_884_000) == "2017-07-05T11:43:43.048884000Z"
    assert rfc3339(951_782_400_000_000_000) == "2000-02-29T00:00:00.000000000Z"
    assert rfc3339(-1) == "1969-12-31T23:59:59.999999999Z"


def test_multi_member_gzip_and_multi_frame_zstd_with_a_skippable_frame(tmp_path):
    import zstandard
    a, b = STREAM[:40], STREAM[40:]
    p = write(tmp_path, b"", name="x")
    with open(p, "wb") as f:
        f.write(gzip.compress(a) + gzip.compress(b))
    assert len(list(netcap.open(p))) == 5
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"abcd"
    with open(p, "wb") as f:
        f.write(skippable + compress(a, "zstd") + skippable + compress(b, "zstd"))
    assert len(list(netcap.open(p))) == 5
    del zstandard


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"hello, world\n", "not a Netcap record file"),
    (frame(header(version="")), "header has no Netcap version"),
    (frame(header(version="0.1")), "header has no Netcap version"),
    (frame(b"\xff\xff\xff"), "header does not decode"),
    (frame(header())[:20], "the file ends inside the header record"),
])
def test_not_a_record_file(tmp_path, content, reason):
    path = write(tmp_path, content)
    with pytest.raises(netcap.NotNetcapFileError, match=reason) as e:
        netcap.open(path)
    assert str(e.value).startswith(path + ": not a Netcap record file")


def test_unknown_type(tmp_path):
    h = netcap.message_class("Header")(Type=999, Version="v9.0.0").SerializeToString()
    path = write(tmp_path, frame(h))
    with pytest.raises(netcap.UnknownTypeError, match=r"unknown record type 999 \(written by a newer"):
        netcap.open(path)
    path = write(tmp_path, frame(netcap.message_class("Header")(Version="v1").SerializeToString()))
    with pytest.raises(netcap.UnknownTypeError, match="unknown record type 0"):
        netcap.open(path)


def test_header_only_file_has_no_records(tmp_path):
    path = write(tmp_path, frame(header()), "gzip")
    assert list(netcap.records(path)) == []


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_truncated_file_keeps_the_records_before(tmp_path, codec):
    h = frame(header())
    offset_of_4th = len(h) + sum(len(frame(tcp(i))) for i in range(3))
    for cut in (offset_of_4th + 1, offset_of_4th + 5, len(STREAM) - 1):
        path = write(tmp_path, STREAM[:cut], codec)
        got = []
        with pytest.raises(netcap.TruncatedError) as e:
            for r in netcap.records(path):
                got.append(r.SrcPort)
        n = 3 if cut < len(STREAM) - 10 else 4
        assert got == [1000 + i for i in range(n)]
        assert e.value.records == n and e.value.path == path
        want_offset = offset_of_4th if n == 3 else offset_of_4th + len(frame(tcp(3)))
        assert e.value.offset == want_offset
        assert str(e.value) == (f"{path}: truncated after {n} records (the file ends inside "
                                f"record {n + 1}, which starts at byte {want_offset} of the "
                                "decompressed stream)")


def test_truncated_zstd(tmp_path):
    # zstd hands out a block only when all of it is there (as in the Rust reader).
    data = compress(STREAM, "zstd")
    path = write(tmp_path, b"")
    with open(path, "wb") as f:
        f.write(data[:-3])  # inside the checksum: the records are all there
    got = []
    with pytest.raises(netcap.TruncatedError, match="truncated after 5 records"):
        for r in netcap.records(path):
            got.append(r)
    assert len(got) == 5
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])  # inside the only block
    with pytest.raises(netcap.NotNetcapFileError, match="ends inside the header record"):
        netcap.open(path)


def test_damaged_gzip(tmp_path):
    data = bytearray(compress(STREAM, "gzip"))
    data[-6] ^= 0xFF  # the CRC-32
    path = write(tmp_path, b"")
    with open(path, "wb") as f:
        f.write(data)
    got = []
    with pytest.raises(netcap.CorruptError, match="compressed stream is damaged") as e:
        for r in netcap.records(path):
            got.append(r)
    assert len(got) == 5 and e.value.records == 5 and e.value.offset == len(STREAM)


def test_damaged_zstd(tmp_path):
    data = bytearray(compress(STREAM, "zstd"))
    data[-1] ^= 0xFF  # the checksum
    path = write(tmp_path, b"")
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises((netcap.CorruptError, netcap.NotNetcapFileError), match="damaged"):
        list(netcap.records(path))


def test_record_that_does_not_decode(tmp_path):
    h = frame(header())
    bad = len(h) + len(frame(tcp(0)))
    path = write(tmp_path, h + frame(tcp(0)) + frame(b"\x0a\xff") + frame(tcp(1)))
    f = netcap.open(path)
    it = iter(f)
    assert next(it).SrcPort == 1000
    with pytest.raises(netcap.CorruptError) as e:
        next(it)
    assert e.value.records == 1 and e.value.offset == bad
    assert f"corrupt after 1 records (record 2 at byte {bad}" in str(e.value)
    assert "record does not decode" in str(e.value)
    assert list(f) == []  # nothing after damage


def test_invalid_and_huge_length_prefixes(tmp_path):
    h = frame(header())
    path = write(tmp_path, h + b"\xff" * 10 + b"\x01")
    with pytest.raises(netcap.CorruptError, match="invalid length prefix"):
        list(netcap.records(path))
    # A length just above 64 MiB is refused before anything is read or
    # allocated, even when the file is long enough to hold it.
    path = write(tmp_path, h + varint(_io.MAX_RECORD_LEN + 1) + b"x" * 1000)
    tracemalloc.start()
    with pytest.raises(netcap.CorruptError, match=r"record length 67108865 exceeds 67108864") as e:
        list(netcap.records(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20 and e.value.offset == len(h)
    path = write(tmp_path, h + varint(2**63) + b"x")
    with pytest.raises(netcap.CorruptError, match="exceeds"):
        list(netcap.records(path))


def test_a_record_of_exactly_64_mib_is_read(tmp_path):
    # Padding (field 19): a 2-byte key, a 4-byte length, then the bytes.
    big = netcap.message_class("TCP")(Padding=b"\x01" * (_io.MAX_RECORD_LEN - 6)).SerializeToString()
    assert len(big) == _io.MAX_RECORD_LEN
    path = write(tmp_path, frame(header()) + frame(big) + frame(tcp(1)), "gzip")
    recs = list(netcap.records(path))
    assert len(recs[0].Padding) == _io.MAX_RECORD_LEN - 6 and recs[1].SrcPort == 1001


def test_schema_is_the_repository_proto():
    src = os.path.join(ROOT, "crates", "netcap-schema", "proto", "netcap.proto")
    if not os.path.exists(src):
        pytest.skip("not run from the Netcap repository")
    with open(src, encoding="utf-8") as f:
        assert netcap.proto_source() == f.read()
    types = netcap.record_types()
    assert "TCP" in types and "Header" not in types
    for name in types:  # every Type value names a message
        assert netcap.message_class(name).DESCRIPTOR.name == name
    assert len(netcap.file_descriptor_set().file) == 1


def test_cli(tmp_path):
    path = write(tmp_path, STREAM[:-3], "gzip")
    p = subprocess.run([sys.executable, "-m", "netcap", "dump", path], capture_output=True, text=True)
    assert p.returncode == 1
    assert len(p.stdout.splitlines()) == 4
    assert p.stderr.startswith(f"error: {path}: truncated after 4 records")
    p = subprocess.run([sys.executable, "-m", "netcap", "dump", "--header", path],
                       capture_output=True, text=True)
    assert p.returncode == 0 and '"Type":"NC_TCP"' in p.stdout
    p = subprocess.run([sys.executable, "-m", "netcap", "dump", str(tmp_path / "missing")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "missing" in p.stderr


def test_zstd_bomb_is_read_in_bounded_memory(tmp_path):
    # A header, then 256 MiB of zero bytes (each an empty record: a zero length
    # prefix) in 8 KiB of zstd: decompressed a bounded piece at a time.
    import zstandard
    c = zstandard.ZstdCompressor().compressobj()
    data = c.compress(frame(header()))
    for _ in range(256):
        data += c.compress(bytes(1 << 20))
    data += c.flush()
    path = tmp_path / "bomb.ncap.zst"
    path.write_bytes(data)
    tracemalloc.start()
    with netcap.open(path) as f:
        for n, rec in enumerate(f):
            if n == 50_000:
                break
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rec.SrcPort == 0 and peak < 80 << 20, peak


def test_reads_from_a_pipe(tmp_path):
    path = write(tmp_path, STREAM, "zstd")
    with open(path, "rb") as stdin:
        p = subprocess.run([sys.executable, "-m", "netcap", "dump", "/dev/stdin"], stdin=stdin,
                           capture_output=True, text=True)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 5, p.stderr
