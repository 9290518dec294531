#!/usr/bin/env python3
"""Seeds the fuzz corpora from the repository's test captures:
capture_reader gets small whole captures (after a byte that sets its batch
size), decode_packet single packets
(prefixed with the index of their link type), ncap_reader record files
written by `netcap capture`, plain, gzip and zstd (pass the netcap binary as the
first argument)."""
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "testdata" / "pcaps"
CORPUS = ROOT / "fuzz" / "corpus"
LINK_TYPES = [1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 9, 50, 127, 147]


def packets(path):
    d = path.read_bytes()
    if len(d) < 24:
        return
    magic = d[:4]
    end = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if not end:
        return
    lt = struct.unpack(end + "I", d[20:24])[0] & 0xFFFF
    pos = 24
    while pos + 16 <= len(d):
        caplen = struct.unpack(end + "I", d[pos + 8:pos + 12])[0]
        yield lt, d[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen


# Index of each line protocol in netcap_stream::conn::PROTOCOLS (the
# stream_parsers target's first byte) and its test streams.
LINE_STREAMS = {3: ["ftp-passive", "ftp-ipv6"], 4: ["smtp-auth-login", "smtp-starttls"],
                5: ["pop3-xoauth2"], 6: ["imap-session"]}


def stream_seeds():
    """stream_parsers inputs from the line protocols' test streams: the
    protocol's index, then chunks of at most 64 bytes, each behind a control
    byte (0x80: server to client; low 6 bits: length - 1)."""
    d = ROOT / "crates" / "netcap-stream" / "src" / "line" / "testdata"
    out = CORPUS / "stream_parsers"
    out.mkdir(parents=True, exist_ok=True)
    for sel, names in LINE_STREAMS.items():
        for name in names:
            seed = bytearray([sel])
            for line in (d / (name + ".txt")).read_text().splitlines():
                _, direction, hexdata = line.split(" ")
                data = bytes.fromhex(hexdata)
                for i in range(0, len(data), 64):
                    chunk = data[i:i + 64]
                    seed.append((0x80 if direction == "S" else 0) | (len(chunk) - 1))
                    seed += chunk
            (out / ("line-" + name)).write_bytes(bytes(seed[:65536]))
    # The FTP data parser (selector 9: one past the detected protocols):
    # a PDF from the server, a gap, more bytes, and an upload.
    seed = bytearray([9])
    for ctl, chunk in ((0x80, b"%PDF-1.4\n%\xe2\xe3"), (0xC0, b"xy"), (0x80, b"1 0 obj\n"), (0x00, b"PK\x03\x04")):
        seed.append(ctl | (len(chunk) - 1))
        seed += chunk
    (out / "ftp-data").write_bytes(bytes(seed))
    # The MIME parser on its own (first byte 0xf0 or more): the message of
    # the SMTP test stream in chunks of 100 bytes (control byte: length - 1).
    data = b"".join(bytes.fromhex(l.split(" ")[2]) for l in (d / "smtp-auth-login.txt").read_text().splitlines()
                    if l.split(" ")[1] == "C")
    msg = data[data.find(b"DATA\r\n") + 6:][:16000]
    seed = bytearray([0xf0])
    for i in range(0, len(msg), 100):
        chunk = msg[i:i + 100]
        seed.append(len(chunk) - 1)
        seed += chunk
    (out / "mime-smtp").write_bytes(bytes(seed))


def main():
    netcap = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "netcap")
    for t in ("decode_packet", "capture_reader", "ncap_reader", "flow_table", "defrag", "stream_parsers"):
        (CORPUS / t).mkdir(parents=True, exist_ok=True)
    stream_seeds()
    n = 0
    for p in sorted(PCAPS.glob("*.pcap*")):
        if p.stat().st_size <= 64 * 1024:
            (CORPUS / "capture_reader" / p.name).write_bytes(bytes([len(p.name) % 8]) + p.read_bytes())
        for i, (lt, pkt) in enumerate(packets(p)):
            if i >= 20 or lt not in LINK_TYPES:
                break
            (CORPUS / "decode_packet" / f"{p.stem}-{i}").write_bytes(bytes([LINK_TYPES.index(lt)]) + pkt)
            n += 1
    # flow_table: the first packets of a TCP conversation, framed as
    # (time step, length, Ethernet frame).
    seq = b""
    for lt, pkt in packets(PCAPS / "tcp-syn-retransmit-ooo-http-vlan.pcap"):
        if len(seq) > 4000:
            break
        frame = pkt[:255]
        seq += struct.pack(">hB", 10, len(frame)) + frame
    (CORPUS / "flow_table" / "tcp-conversation").write_bytes(seq)
    # defrag: IP packets of the fragment capture, framed as (time step,
    # length, IP packet); those over 255 bytes are cut (and so not taken).
    seq = b""
    for lt, pkt in packets(PCAPS / "ip-fragments-dns-udp-icmp.pcap"):
        ip = pkt[14:14 + 255]
        seq += struct.pack(">hB", 1, len(ip)) + ip
    (CORPUS / "defrag" / "fragments").write_bytes(seq)
    # ... and small datagrams that complete: IPv4 (out of order) and IPv6.
    udp = struct.pack(">HHHH", 53, 40000, 48, 0) + bytes(range(40))
    seq = b""
    for off in (16, 0, 32):
        flags = (0x2000 if off < 32 else 0) | off // 8
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 36, 7, flags, 64, 17, 0, bytes(4), bytes([1] * 4)) + udp[off:off + 16]
        seq += struct.pack(">hB", 1, len(ip)) + ip
    for off in (0, 16, 32):
        fh = struct.pack(">BBHI", 17, 0, off | (1 if off < 32 else 0), 9)
        ip = struct.pack(">IHBB", 0x60000000, 24, 44, 64) + bytes(16) + bytes([1] * 16) + fh + udp[off:off + 16]
        seq += struct.pack(">hB", 1, len(ip)) + ip
    (CORPUS / "defrag" / "small-datagrams").write_bytes(seq)
    # stream_parsers: the connections of the parsers' fixtures (one segment a
    # line, "frame C|S hex"), framed as the target reads them: the index of the
    # protocol in netcap_stream::conn::PROTOCOLS, then chunks of at most 64
    # bytes, each after a control byte (0x80: to the client; length - 1).
    protocols = {"http": 0, "tls": 1, "ssh": 3}
    stream_src = ROOT / "crates" / "netcap-stream" / "src"
    for proto, sel in protocols.items():
        for fx in sorted((stream_src / proto / "testdata").glob("*.txt")):
            seq = bytes([sel])
            for line in fx.read_text().splitlines():
                parts = line.split(" ")
                if len(parts) != 3:
                    continue
                data = bytes.fromhex(parts[2])
                to_client = 0x80 if parts[1] == "S" else 0
                for i in range(0, len(data), 64):
                    chunk = data[i:i + 64]
                    seq += bytes([to_client | (len(chunk) - 1)]) + chunk
                if len(seq) > 60000:
                    break
            (CORPUS / "stream_parsers" / f"{proto}-{fx.stem}").write_bytes(seq)
    # ncap_reader: the record files of one capture, uncompressed (cut to 4 KiB),
    # gzip and zstd (whole, when that small: the reader picks the codec from
    # the first bytes).
    with tempfile.TemporaryDirectory() as tmp:
        cap = PCAPS / "ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap"
        for codec in ("none", "gzip", "zstd"):
            out = Path(tmp) / codec
            subprocess.run([netcap, "capture", "-q", "--compression", codec, "-r", str(cap), "-o", str(out)],
                           check=True)
            for f in out.glob("*.ncap*"):
                data = f.read_bytes()
                if codec == "none":
                    data = data[:4096]
                elif len(data) > 4096:
                    continue
                (CORPUS / "ncap_reader" / f.name).write_bytes(data)
    print(f"seeded {n} packets")


if __name__ == "__main__":
    main()
