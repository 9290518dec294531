#!/usr/bin/env python3
"""Builds the standard benchmark workload: a microsecond pcap repeated N times,
copy i shifted by i * SHIFT seconds so that time keeps moving forward.

usage: make_workload.py INPUT.pcap OUTPUT.pcap [COPIES=12] [SHIFT=16400]
"""
import struct
import sys


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    shift = int(sys.argv[4]) if len(sys.argv) > 4 else 16400
    data = open(src, "rb").read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        end = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        end = ">"
    else:
        sys.exit(f"{src}: not a microsecond legacy pcap")
    header, body = data[:24], data[24:]
    # Offsets of every record's seconds field, computed once.
    offsets = []
    pos = 0
    rec = struct.Struct(end + "IIII")
    while pos + 16 <= len(body):
        _, _, caplen, _ = rec.unpack_from(body, pos)
        offsets.append(pos)
        pos += 16 + caplen
    with open(dst, "wb") as out:
        out.write(header)
        secs = struct.Struct(end + "I")
        for i in range(copies):
            copy = bytearray(body[:pos])
            for off in offsets:
                (s,) = secs.unpack_from(copy, off)
                secs.pack_into(copy, off, s + i * shift)
            out.write(copy)
    print(f"{dst}: {len(offsets) * copies} packets")


if __name__ == "__main__":
    main()
