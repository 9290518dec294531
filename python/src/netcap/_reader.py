"""Reading record files: the header, then the records one by one."""
from __future__ import annotations

import os
from typing import Iterator

from google.protobuf.message import DecodeError

from . import _io
from ._convert import converter
from ._schema import descriptor, message_class, type_name
from .errors import CorruptError, NotNetcapFileError, TruncatedError, UnknownTypeError


class RecordFile:
    """An open record file (`.ncap`, `.ncap.gz` or `.ncap.zst`; the
    compression is detected from the content). Opening reads and checks the
    header; iterating yields the records as protobuf messages, once.

        with netcap.open("out/TCP.ncap.gz") as f:
            print(f.type, f.header.InputSource)
            for tcp in f:
                print(tcp.PacketNumber, tcp.DstPort)

    Damage stops the iteration with a `TruncatedError` or `CorruptError`
    after every complete record before it has been yielded.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._stream = _io.open_stream(self.path)
        try:
            self._frames = _io.Frames(self._stream)
            self.header = self._read_header()
            name = type_name(self.header.Type)
            if name is None:
                raise UnknownTypeError(self.path, self.header.Type)
            try:
                #: The protobuf message class of the records.
                self.message_class = message_class(name)
            except KeyError:  # an enum value without a message: not in a valid schema
                raise UnknownTypeError(self.path, self.header.Type) from None
        except BaseException:
            self._stream.close()
            raise
        #: The record type name, e.g. "TCP" (the message name).
        self.type = name
        #: The protobuf descriptor of the records.
        self.descriptor = descriptor(name)
        #: Complete records read so far.
        self.records_read = 0
        self._done = False

    def _read_header(self):
        try:
            data = self._frames.next()
        except _io.FrameError as e:
            if e.kind == "truncated":
                raise NotNetcapFileError(self.path, "the file ends inside the header record") from None
            raise NotNetcapFileError(self.path, f"no header record: {e.reason}") from None
        if data is None:
            raise NotNetcapFileError(self.path, "empty file")
        try:
            header = message_class("Header").FromString(data)
        except DecodeError:
            raise NotNetcapFileError(self.path, "header does not decode") from None
        if not header.Version.startswith("v"):
            raise NotNetcapFileError(self.path, "header has no Netcap version")
        return header

    def raw(self) -> Iterator[bytes]:
        """The records' encoded bytes (one protobuf message each)."""
        while not self._done:
            start = self._frames.base + self._frames.pos
            try:
                data = self._frames.next()
            except _io.FrameError as e:
                self._finish()
                if e.kind == "truncated":
                    raise TruncatedError(self.path, self.records_read, e.offset) from None
                raise CorruptError(self.path, self.records_read, e.offset, e.reason) from None
            if data is None:
                self._finish()
                return
            self._offset = start
            self.records_read += 1
            yield data

    def __iter__(self):
        """The records as protobuf messages of `message_class`."""
        parse = self.message_class.FromString
        for data in self.raw():
            try:
                yield parse(data)
            except DecodeError as e:
                self._finish()
                self.records_read -= 1
                raise CorruptError(
                    self.path, self.records_read, self._offset, f"record does not decode: {e}"
                ) from None

    def dicts(self, utc: bool = False) -> Iterator[dict]:
        """The records as dicts with the values of `netcap dump --json`
        (`--utc` with utc=True); see `netcap.to_dict`."""
        conv = converter(self.descriptor, utc)
        for msg in self:
            yield conv(msg)

    def _finish(self):
        self._done = True
        self._stream.close()

    def close(self):
        """Closes the file (iterating afterwards yields nothing)."""
        self._finish()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<netcap.RecordFile {self.path!r} type={self.type}>"


def open(path: str | os.PathLike) -> RecordFile:  # noqa: A001 (like io.open)
    """Opens a record file and reads its header; see `RecordFile`."""
    return RecordFile(path)


def records(path: str | os.PathLike, as_dict: bool = False, utc: bool = False):
    """The records of a file, as protobuf messages or (as_dict=True) as dicts
    of `netcap dump --json` values. The file is closed at the end."""
    with RecordFile(path) as f:
        yield from (f.dicts(utc) if as_dict else f)


def read_header(path: str | os.PathLike):
    """The `Header` message of a record file."""
    with RecordFile(path) as f:
        return f.header
