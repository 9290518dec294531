"""Exceptions raised for files that are not, or no longer, valid record files.

Every one names the file; `TruncatedError` and `CorruptError` also carry the
number of complete records read before the damage (all of which have been
handed out already) and the byte offset, in the decompressed stream, of the
frame where the damage starts. Errors of the operating system (a missing
file, a permission denied) are the usual `OSError`s.
"""
from __future__ import annotations

import os


class NetcapError(Exception):
    """Base class of the errors about a record file's content."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


class NotNetcapFileError(NetcapError):
    """The file does not start with a valid Netcap header (empty file, not a
    record file, or cut short inside its header)."""

    def __init__(self, path, reason: str):
        self.reason = reason
        super().__init__(path, f"not a Netcap record file ({reason})")


class UnknownTypeError(NetcapError):
    """The header names a record type this schema does not know."""

    def __init__(self, path, number: int):
        self.number = number
        super().__init__(path, f"unknown record type {number} (written by a newer Netcap?)")


class TruncatedError(NetcapError):
    """The file ends inside a record (a capture interrupted while writing, a
    copy cut short). The `records` complete records before it were read."""

    def __init__(self, path, records: int, offset: int):
        self.records, self.offset = records, offset
        super().__init__(
            path,
            f"truncated after {records} records (the file ends inside record "
            f"{records + 1}, which starts at byte {offset} of the decompressed stream)",
        )


class CorruptError(NetcapError):
    """A damaged file: an invalid or too large length prefix, a record that
    does not decode, or damaged compressed data. Nothing after it is read."""

    def __init__(self, path, records: int, offset: int, reason: str):
        self.records, self.offset, self.reason = records, offset, reason
        super().__init__(
            path,
            f"corrupt after {records} records (record {records + 1} at byte {offset} "
            f"of the decompressed stream): {reason}",
        )
