#!/usr/bin/env python3
"""Writes testdata/pcaps/ip-fragments-dns-udp-icmp.pcap: IPv4 and IPv6
datagrams split into fragments, for the IP reassembly tests.

    python3 scripts/make_frag_pcap.py [OUT]

Frames (Ethernet, microsecond pcap), one datagram per group:
  1-3    IPv4 DNS response over UDP (1,200 bytes), fragments in order
  4-6    IPv4 UDP to port 9999, fragments in reverse order
  7-8    IPv4 ICMP echo request (2,000 bytes), in order
  9-12   IPv6 DNS response over UDP, in order, the middle one sent twice (10, 11)
  13-14  IPv6 UDP, last fragment first, behind a hop-by-hop header
  15-17  IPv4 UDP whose second fragment overlaps the first with other bytes
  18     IPv4 first fragment whose datagram never completes
  19     IPv6 atomic fragment (offset 0, no more fragments) carrying UDP
  20     an unfragmented IPv4 DNS query, for contrast
Deterministic: the same bytes on every run.
"""

import struct
import sys
from pathlib import Path

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parent.parent / "testdata/pcaps/ip-fragments-dns-udp-icmp.pcap")

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(ethertype: int, payload: bytes, rev=False) -> bytes:
    a, b = (MAC_B, MAC_A) if rev else (MAC_A, MAC_B)
    return a + b + struct.pack("!H", ethertype) + payload


def v4addr(s: str) -> bytes:
    return bytes(int(x) for x in s.split("."))


def v6addr(s: str) -> bytes:
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def ipv4(src, dst, proto, payload, ident, more, offset):
    flags = (0x2000 if more else 0) | (offset // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, proto, 0,
                    v4addr(src), v4addr(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload, pseudo):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    c = csum(pseudo + h + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), c) + payload


def pseudo4(src, dst, proto, n):
    return v4addr(src) + v4addr(dst) + struct.pack("!BBH", 0, proto, n)


def pseudo6(src, dst, proto, n):
    return v6addr(src) + v6addr(dst) + struct.pack("!IxxxB", n, proto)


def dns_response(ident: int, answers: int) -> bytes:
    q = b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
    msg = struct.pack("!HHHHHH", ident, 0x8180, 1, answers, 0, 0) + q
    for i in range(answers):
        msg += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, i % 250 + 1])
    return msg


def dns_query(ident: int) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)


def split(data: bytes, size: int):
    """(offset, chunk, more) pieces of `data`, `size` a multiple of 8."""
    out = []
    for off in range(0, len(data), size):
        out.append((off, data[off:off + size], off + size < len(data)))
    return out


def v4_frags(src, dst, proto, payload, ident, size, rev=False):
    return [eth(0x0800, ipv4(src, dst, proto, c, ident, m, o), rev) for o, c, m in split(payload, size)]


def ipv6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hlim) + v6addr(src) + v6addr(dst) + payload


def v6_frags(src, dst, nh, payload, ident, size, hbh=False):
    out = []
    for o, c, m in split(payload, size):
        fh = struct.pack("!BBHI", nh, 0, o | (1 if m else 0), ident)
        if hbh:
            # Hop-by-hop header with a PadN option, before the fragment header.
            ext = bytes([44, 0, 1, 4, 0, 0, 0, 0]) + fh
            out.append(eth(0x86DD, ipv6(src, dst, 0, ext + c)))
        else:
            out.append(eth(0x86DD, ipv6(src, dst, 44, fh + c)))
    return out


def main():
    frames = []
    # 1-3: DNS response, 1,200-odd bytes over UDP, 512-byte fragments.
    dns = dns_response(0x1234, 70)
    u = udp(53, 40000, dns, pseudo4("192.0.2.53", "192.0.2.10", 17, 8 + len(dns)))
    frames += v4_frags("192.0.2.53", "192.0.2.10", 17, u, 0x0101, 512, rev=True)
    assert len(frames) == 3, len(frames)
    # 4-6: UDP to an unknown port, fragments in reverse order.
    data = bytes(range(256)) * 3
    u = udp(5555, 9999, data, pseudo4("192.0.2.10", "198.51.100.9", 17, 8 + len(data)))
    frames += list(reversed(v4_frags("192.0.2.10", "198.51.100.9", 17, u, 0x0202, 296)))
    assert len(frames) == 6
    # 7-8: ICMP echo request of 2,000 bytes.
    body = struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + bytes(i % 256 for i in range(1992))
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    frames += v4_frags("192.0.2.10", "198.51.100.1", 1, body, 0x0303, 1480)
    assert len(frames) == 8
    # 9-11: IPv6 DNS response, middle fragment retransmitted.
    s6, d6 = "2001:db8::53", "2001:db8::10"
    dns6 = dns_response(0x5678, 40)
    u = udp(53, 40001, dns6, pseudo6(s6, d6, 17, 8 + len(dns6)))
    f = v6_frags(s6, d6, 17, u, 0xCAFE0001, 248)
    assert len(f) == 3, len(f)
    frames += [f[0], f[1], f[1], f[2]]
    # 13-14: IPv6 UDP behind a hop-by-hop header, last fragment first.
    data6 = b"netcap-reassembly-" * 20
    u = udp(7000, 7001, data6, pseudo6(d6, s6, 17, 8 + len(data6)))
    f = v6_frags(d6, s6, 17, u, 0xCAFE0002, 200, hbh=True)
    assert len(f) == 2
    frames += [f[1], f[0]]
    # 15-17: overlapping fragments with different bytes: dropped.
    data = b"A" * 64
    u = udp(6000, 6001, data, pseudo4("203.0.113.5", "192.0.2.10", 17, 72))
    frames.append(eth(0x0800, ipv4("203.0.113.5", "192.0.2.10", 17, u[:32], 0x0404, True, 0)))
    frames.append(eth(0x0800, ipv4("203.0.113.5", "192.0.2.10", 17, b"B" * 32, 0x0404, True, 24)))
    frames.append(eth(0x0800, ipv4("203.0.113.5", "192.0.2.10", 17, u[56:], 0x0404, False, 56)))
    # 18: a first fragment whose datagram never completes.
    u = udp(6000, 6002, b"C" * 64, pseudo4("203.0.113.5", "192.0.2.10", 17, 72))
    frames.append(eth(0x0800, ipv4("203.0.113.5", "192.0.2.10", 17, u[:40], 0x0505, True, 0)))
    # 19: IPv6 atomic fragment carrying a whole UDP datagram.
    data = b"atomic"
    u = udp(7002, 7003, data, pseudo6(s6, d6, 17, 8 + len(data)))
    frames.append(eth(0x86DD, ipv6(s6, d6, 44, struct.pack("!BBHI", 17, 0, 0, 0xCAFE0003) + u)))
    # 20: an unfragmented DNS query.
    q = dns_query(0x9999)
    frames.append(eth(0x0800, ipv4("192.0.2.10", "192.0.2.53", 17,
                                   udp(40002, 53, q, pseudo4("192.0.2.10", "192.0.2.53", 17, 8 + len(q))),
                                   0x0606, False, 0)))

    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t = 1_700_000_000_000_000
    for i, fr in enumerate(frames):
        us = t + i * 1000
        out += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(fr), len(fr)) + fr
    OUT.write_bytes(bytes(out))
    print(f"{OUT}: {len(frames)} frames")


if __name__ == "__main__":
    main()
