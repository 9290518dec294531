"""to_pandas on record files written here, and the comparison used against
`netcap dump` (it must find wrong values)."""
from __future__ import annotations

import json
import os
import sys

import pytest

pd = pytest.importorskip("pandas")

import netcap  # noqa: E402
from test_reader import STREAM, T0, frame, header, tcp, write  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dumpcheck import frame_problems  # noqa: E402


def test_columns_and_dtypes(tmp_path):
    df = netcap.to_pandas(write(tmp_path, STREAM, "zstd"))
    assert len(df) == 5
    assert list(df.columns) == [f.name for f in netcap.descriptor("TCP").fields]
    assert str(df.Timestamp.dtype) == "datetime64[ns, UTC]"
    assert df.Timestamp[3] == pd.Timestamp(T0 + 3, unit="ns", tz="UTC")
    assert df.Timestamp[3].value == T0 + 3  # exact nanoseconds
    assert df.SrcPort.dtype == "int32" and df.SeqNum.dtype == "uint32"
    assert df.PacketNumber.dtype == "uint64" and df.PacketNumber[0] == 2**64 - 1
    assert df.SYN.dtype == bool and df.PayloadEntropy.dtype == "float64"
    assert df.Padding[0] == "00ab"
    assert df.Options[0] == [] and df.Options.dtype == object
    assert df.attrs["netcap_type"] == "TCP"


def test_header_only_file_gives_typed_empty_frame(tmp_path):
    df = netcap.to_pandas(write(tmp_path, frame(header()), "gzip"))
    assert len(df) == 0 and len(df.columns) == len(netcap.descriptor("TCP").fields)
    assert str(df.Timestamp.dtype) == "datetime64[ns, UTC]" and df.SeqNum.dtype == "uint32"


def test_nested_messages_are_dicts(tmp_path):
    ipv6 = netcap.message_class("IPv6")
    a = ipv6(Timestamp=T0, SrcIP="::1")
    b = ipv6(Timestamp=T0 + 1)
    b.HopByHop.Timestamp = T0
    b.ExtensionHeaders.add(NextHeader=6)
    path = write(tmp_path, frame(header("IPv6")) + frame(a.SerializeToString()) + frame(b.SerializeToString()))
    df = netcap.to_pandas(path, columns=["HopByHop", "ExtensionHeaders", "SrcIP"])
    assert list(df.columns) == ["HopByHop", "ExtensionHeaders", "SrcIP"]
    assert df.HopByHop[0] is None and df.HopByHop[1]["Timestamp"] == "1536669410.335693"
    assert df.ExtensionHeaders[1][0]["NextHeader"] == 6
    assert df.SrcIP.tolist() == ["::1", ""]
    with pytest.raises(KeyError, match="IPv6 has no field Nope"):
        netcap.to_pandas(path, columns=["Nope"])


def test_folder(tmp_path):
    write(tmp_path, STREAM, "gzip", name="TCP.ncap.gz")
    write(tmp_path, frame(header("UDP")) + frame(b""), "zstd", name="UDP.ncap.zst")
    (tmp_path / "errors.log").write_text("not a record file")
    frames = netcap.to_pandas(tmp_path)
    assert list(frames) == ["TCP", "UDP"]
    assert len(frames["TCP"]) == 5 and len(frames["UDP"]) == 1
    assert len(netcap.to_pandas(str(tmp_path), type="UDP")) == 1
    with pytest.raises(ValueError, match="no record file holds DNS records"):
        netcap.to_pandas(tmp_path, type="DNS")
    with pytest.raises(ValueError, match="holds TCP records, not UDP"):
        netcap.to_pandas(tmp_path / "TCP.ncap.gz", type="UDP")
    write(tmp_path, STREAM, "none", name="TCP-copy.ncap")
    with pytest.raises(ValueError, match="hold TCP records"):
        netcap.to_pandas(tmp_path)


def test_damage_raises_or_warns(tmp_path):
    path = write(tmp_path, STREAM[:-2], "gzip")
    with pytest.raises(netcap.TruncatedError, match="truncated after 4 records"):
        netcap.to_pandas(path)
    with pytest.warns(UserWarning, match="truncated after 4 records.*the 4 records before"):
        df = netcap.to_pandas(path, on_error="warn")
    assert df.SrcPort.tolist() == [1000, 1001, 1002, 1003]


def test_the_dump_comparison_finds_wrong_values(tmp_path):
    path = write(tmp_path, STREAM, "gzip")
    records = [json.loads(netcap.to_json(m)) for m in netcap.records(path)]
    utc = [json.loads(netcap.to_json(m, utc=True)) for m in netcap.records(path)]
    df = netcap.to_pandas(path)
    assert frame_problems(df, records, utc) == []
    for col, value in [("SrcPort", 7), ("SYN", True), ("PayloadEntropy", 0.5), ("Padding", "00ac"),
                       ("Options", [{}]), ("Timestamp", pd.Timestamp(T0 + 1, unit="ns", tz="UTC"))]:
        bad = df.copy()
        bad.loc[0, col] = value
        assert frame_problems(bad, records, utc), col
    bad = df.copy()
    bad["SrcPort"] = bad.SrcPort.astype("float64")  # same numbers, wrong type
    assert frame_problems(bad, records, utc)
    assert frame_problems(df.iloc[1:], records, utc)
