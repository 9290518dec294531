"""python -m netcap dump FILE [--header] [--utc]: a record file as JSON lines,
the same bytes as `netcap dump -r FILE --json`."""
from __future__ import annotations

import argparse
import signal
import sys

from ._convert import dumps, to_dict
from ._reader import RecordFile
from .errors import NetcapError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netcap", description="Read Netcap record files.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="print a record file as JSON lines, like `netcap dump --json`")
    d.add_argument("file")
    d.add_argument("--header", action="store_true", help="print the header as JSON and exit")
    d.add_argument("--utc", action="store_true", help="timestamps as RFC 3339 in UTC")
    sub.add_parser("types", help="list the record types of the schema")
    args = ap.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends us quietly

    if args.command == "types":
        from ._schema import record_types

        for name in record_types():
            print(name)
        return 0

    out = sys.stdout
    try:
        with RecordFile(args.file) as f:
            if args.header:
                out.write(dumps(to_dict(f.header)) + "\n")
                return 0
            for rec in f.dicts(args.utc):
                out.write(dumps(rec) + "\n")
    except (NetcapError, OSError, ImportError) as e:
        out.flush()  # the records before the damage are printed, as netcap dump does
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
