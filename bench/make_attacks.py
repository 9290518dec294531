#!/usr/bin/env python3
"""Generates hostile captures for the resource benchmarks (never committed):

  flows-1m.pcap       1,000,000 packets, each a distinct UDP flow
  synflood.pcap       1,000,000 TCP SYNs from random sources to one server
  fragments.pcap      500,000 first IPv4 fragments whose datagrams never complete,
                      plus 200,000 overlapping fragments of 1,000 datagrams
  tcp-overlap.pcap    200,000 segments of 1,000 TCP connections, overlapping with
                      conflicting data
  synflood-payload.pcap  1,000,000 TCP SYNs carrying 100 bytes each, from random sources
  halfopen-ooo-1m.pcap   1,000,000 half-open TCP connections, each a SYN and then a
                      200-byte segment 1,000 bytes beyond the next expected one (an
                      out-of-order segment whose hole never fills)

usage: make_attacks.py OUTDIR [SCALE]   (SCALE divides every count, default 1)
"""
import random
import struct
import sys
from pathlib import Path

ETH = bytes.fromhex("020000000001" "020000000002" "0800")


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src: int, dst: int, proto: int, payload: bytes, ident=0, flags_frag=0) -> bytes:
    h = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ident, flags_frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data=b"x" * 18) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport, seq, flags, data=b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + data


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.t = 1_700_000_000_000_000  # microseconds

    def packet(self, ip: bytes):
        frame = ETH + ip
        self.t += 10
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def main():
    out = Path(sys.argv[1])
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(42)

    w = Writer(out / "flows-1m.pcap")
    for i in range(1_000_000 // scale):
        w.packet(ipv4(0x0A000000 + i, 0xC0A80001, 17, udp(1024 + i % 60000, 53)))
    w.close()

    w = Writer(out / "synflood.pcap")
    for _ in range(1_000_000 // scale):
        w.packet(ipv4(rnd.getrandbits(32), 0xC0A80001, 6, tcp(rnd.randrange(1024, 65535), 80, rnd.getrandbits(32), 0x02)))
    w.close()

    w = Writer(out / "fragments.pcap")
    for i in range(500_000 // scale):
        w.packet(ipv4(rnd.getrandbits(32), 0xC0A80001, 17, udp(5000, 6000, b"A" * 64), ident=i & 0xFFFF, flags_frag=0x2000))
    for i in range(200_000 // scale):
        off = rnd.randrange(0, 64)  # overlapping offsets (units of 8 bytes)
        more = 0x2000 if rnd.random() < 0.9 else 0
        w.packet(ipv4(0x0B000000 + i % 1000, 0xC0A80001, 17, bytes([rnd.getrandbits(8)]) * 64, ident=i % 1000, flags_frag=more | off))
    w.close()

    w = Writer(out / "tcp-overlap.pcap")
    for i in range(200_000 // scale):
        conn = i % 1000
        seq = 1000 + rnd.randrange(0, 20000)
        w.packet(ipv4(0x0C000000 + conn, 0xC0A80001, 6, tcp(40000 + conn, 80, seq, 0x18, bytes([rnd.getrandbits(8)]) * 100)))
    w.close()
    w = Writer(out / "synflood-payload.pcap")
    for _ in range(1_000_000 // scale):
        w.packet(ipv4(rnd.getrandbits(32), 0xC0A80001, 6,
                      tcp(rnd.randrange(1024, 65535), 80, rnd.getrandbits(32), 0x02, bytes([rnd.getrandbits(8)]) * 100)))
    w.close()

    w = Writer(out / "halfopen-ooo-1m.pcap")
    for i in range(1_000_000 // scale):
        src, sport, isn = 0x0D000000 + i, 1024 + i % 60000, rnd.getrandbits(32)
        w.packet(ipv4(src, 0xC0A80001, 6, tcp(sport, 80, isn, 0x02)))
        w.packet(ipv4(src, 0xC0A80001, 6, tcp(sport, 80, (isn + 1001) & 0xFFFFFFFF, 0x18, b"Q" * 200)))
    w.close()
    print(f"attack captures in {out}")


if __name__ == "__main__":
    main()
