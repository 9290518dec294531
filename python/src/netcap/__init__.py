"""Read Netcap record files (.ncap, .ncap.gz, .ncap.zst) from Python.

    import netcap
    df = netcap.to_pandas("out/TCP.ncap.gz")        # a DataFrame (pip install './python[pandas]')
    dfs = netcap.to_pandas("out/")                  # {"TCP": DataFrame, "DNS": ...}

    with netcap.open("out/DNS.ncap.zst") as f:      # compression detected from the content
        print(f.type, f.header.InputSource)
        for dns in f:                               # protobuf messages
            print(dns.PacketNumber, [q.Name for q in dns.Questions])

    for d in netcap.records("out/TCP.ncap.gz", as_dict=True):
        ...                                         # dicts, values as `netcap dump --json`

The schema is the shipped netcap.proto (`netcap.proto_source()`), compiled
into the descriptor set the package loads (`netcap.pool()`).
"""
from ._convert import dumps, to_dict, to_json
from ._pandas import to_pandas
from ._reader import RecordFile, open, read_header, records
from ._schema import descriptor, file_descriptor_set, message_class, pool, proto_source, record_types
from .errors import CorruptError, NetcapError, NotNetcapFileError, TruncatedError, UnknownTypeError

__version__ = "0.1.0"

__all__ = [
    "CorruptError",
    "NetcapError",
    "NotNetcapFileError",
    "RecordFile",
    "TruncatedError",
    "UnknownTypeError",
    "descriptor",
    "dumps",
    "file_descriptor_set",
    "message_class",
    "pool",
    "proto_source",
    "read_header",
    "record_types",
    "records",
    "to_dict",
    "to_json",
    "to_pandas",
]
