"""Decompression (detected by content) and the length-delimited frames of a
record file. See docs/file-format.md in the Netcap repository."""
from __future__ import annotations

import gzip
import zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 16
# The Rust reader (netcap_format::MAX_RECORD_LEN) treats a longer length
# prefix as corruption instead of trying to allocate it.
MAX_RECORD_LEN = 64 << 20
ZSTD_FEED = 1 << 10


class _Truncated(Exception):
    """The compressed stream ends before its end marker."""


class _Damaged(Exception):
    """The compressed stream is damaged (bad checksum, invalid data)."""


def detect(start: bytes) -> str:
    """The codec of a file from its first four bytes: "gzip", "zstd" or "none"."""
    if start.startswith(GZIP_MAGIC):
        return "gzip"
    if start == ZSTD_MAGIC:
        return "zstd"
    if len(start) == 4 and start[0] >> 4 == 5 and start[1:] == b"\x2a\x4d\x18":
        return "zstd"  # a skippable frame (Netcap writes none)
    return "none"


class _Plain:
    def __init__(self, f):
        self.f = f

    def read_chunk(self, n: int) -> bytes:
        return self.f.read(n)

    def close(self):
        self.f.close()


class _Gzip:
    """gzip, several members read as one stream. read1 decompresses at most
    one buffer of input per call, and the standard library raises EOFError
    only from a call that produced nothing, so no data before a cut is lost."""

    def __init__(self, f):
        self.raw = f
        self.g = gzip.GzipFile(fileobj=f, mode="rb")

    def read_chunk(self, n: int) -> bytes:
        try:
            return self.g.read1(n)
        except EOFError:
            raise _Truncated("the gzip stream is cut short") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise _Damaged(f"compressed stream is damaged: {e}") from None

    def close(self):
        self.g.close()
        self.raw.close()


def _zstd_decompressor():
    """A new one-frame zstd decompressor (decompress(), eof, unused_data): the
    standard library's from Python 3.14 on, else the `zstandard` package's."""
    try:
        from compression.zstd import ZstdDecompressor  # Python 3.14+
    except ImportError:
        pass
    else:
        return ZstdDecompressor()
    try:
        import zstandard
    except ImportError:
        raise ImportError(
            "reading zstd-compressed record files needs Python 3.14+ or the "
            "zstandard package: python3 -m pip install zstandard"
        ) from None
    return zstandard.ZstdDecompressor().decompressobj()


class _Zstd:
    """zstd, frame after frame (skippable frames included). Unlike
    zstandard's stream_reader, which ends quietly, a file that ends inside a
    frame raises _Truncated, and damaged data (a bad checksum, say) _Damaged.

    The decompressor is fed ZSTD_FEED bytes at a time: zstd expands a block
    of at most 128 KiB from as little as 4 bytes, so a larger feed could
    return gigabytes at once (a decompression bomb); this way one call
    returns at most 32 MiB."""

    def __init__(self, f):
        self.f, self.d, self.fed = f, None, False
        self.input, self.at = b"", 0

    def _feed(self) -> bytes:
        if self.at == len(self.input):
            self.input, self.at = self.f.read(CHUNK), 0
        data = self.input[self.at:self.at + ZSTD_FEED]
        self.at += len(data)
        return data

    def read_chunk(self, n: int) -> bytes:
        while True:
            leftover = b""
            if self.d is not None and self.d.eof:  # a frame ended: maybe another follows
                leftover, self.d = self.d.unused_data, None
            data = leftover or self._feed()
            if not data:
                if self.d is not None and self.fed:
                    raise _Truncated("the zstd frame is cut short")
                return b""
            if self.d is None:
                self.d, self.fed = _zstd_decompressor(), False
            try:
                out = self.d.decompress(data)
            except Exception as e:  # zstandard.ZstdError / compression.zstd.ZstdError
                raise _Damaged(f"compressed stream is damaged: {e}") from None
            self.fed = True
            if out:
                return out

    def close(self):
        self.f.close()


def open_stream(path):
    """The decompressed stream of a record file; the codec is detected from
    the content, whatever the file's name."""
    f = open(path, "rb")
    try:
        codec = detect(f.peek(4)[:4])  # peek, not seek: pipes work too
        if codec == "gzip":
            return _Gzip(f)
        if codec == "zstd":
            return _Zstd(f)
        return _Plain(f)
    except BaseException:
        f.close()
        raise


class FrameError(Exception):
    """Internal: kind is "truncated" or "corrupt"; offset is where the frame starts."""

    def __init__(self, kind: str, offset: int, reason: str = ""):
        super().__init__(reason)
        self.kind, self.offset, self.reason = kind, offset, reason


class Frames:
    """The varint-length-delimited frames of a decompressed stream."""

    def __init__(self, stream):
        self.s = stream
        self.buf = b""
        self.pos = 0
        self.base = 0  # stream offset of buf[0]

    def _fill(self, need: int) -> bool:
        """Makes `need` bytes available from pos on; False if the stream ends first."""
        avail = len(self.buf) - self.pos
        if avail >= need:
            return True
        parts = [self.buf[self.pos:]]
        while avail < need:
            chunk = self.s.read_chunk(max(need - avail, CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            avail += len(chunk)
        self.base += self.pos
        self.buf, self.pos = b"".join(parts), 0
        return avail >= need

    def next(self) -> bytes | None:
        """The next frame's bytes, None at a clean end of the stream."""
        start = self.base + self.pos
        try:
            # Bytes are asked of the decompressor only when needed, as the Rust
            # reader does: damage beyond the last complete record is reported
            # only when a next record is looked for.
            if not self._fill(1):
                return None
            n, shift, i = 0, 0, 0
            while True:
                if self.pos + i == len(self.buf) and not self._fill(i + 1):
                    raise FrameError("truncated", start)
                b = self.buf[self.pos + i]
                i += 1
                n |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
                if shift > 63:
                    raise FrameError("corrupt", start, "invalid length prefix")
            n &= (1 << 64) - 1
            if n > MAX_RECORD_LEN:
                raise FrameError("corrupt", start, f"record length {n} exceeds {MAX_RECORD_LEN}")
            self.pos += i
            if not self._fill(n):
                raise FrameError("truncated", start)
            data = self.buf[self.pos:self.pos + n]
            self.pos += n
            return data
        except _Truncated:
            raise FrameError("truncated", start) from None
        except _Damaged as e:
            raise FrameError("corrupt", start, str(e)) from None
