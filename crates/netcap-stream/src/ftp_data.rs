//! FTP data connections: every byte a data connection carries is a file's
//! content (RFC 959 stream mode: the sender closes the connection at the
//! end of the file). Such a connection has no magic bytes of its own: it is
//! recognised by the endpoint its control connection announced (PORT, EPRT,
//! PASV, EPSV), in `netcap-flow`, which starts this parser instead of the
//! content detection ([`crate::ConnStreams::with_protocol`]).
//!
//! Each direction that carries bytes is one file: hashed and sniffed as it
//! streams ([`Content`]), kept for `--files` under the cap, and written as a
//! File record (`Source` FTP) when the direction ends. Its name and the
//! command that moved it are known only to the control connection: the
//! writer stage joins them (`netcap_derive::ftp`).

use crate::file::{file_uid, Content, FileInfo};
use crate::parser::{Cx, Dir, End, Origin, ParseError, Parsed, Probe, Protocol, StreamParser};

/// The FTP data protocol. Never detected by content (its probe says no);
/// started for connections to an announced data endpoint.
pub const PROTOCOL: Protocol = Protocol {
    name: NAME,
    ports: &[],
    probe: |_, _, _| Probe::No,
    new: || Box::new(FtpDataParser::default()),
};

/// Name in the Connection record's `Services` and `ApplicationProto`
/// (Zeek's service `ftp-data`).
pub const NAME: &str = "FTP-DATA";

/// Source of the File records.
pub const SOURCE: &str = "FTP";

/// One direction's file in flight.
#[derive(Debug)]
struct Side {
    content: Content,
    /// Packet of its first byte (or of the gap it started with).
    origin: Origin,
    missing: u64,
    truncated: bool,
}

/// The parser of one data connection.
#[derive(Debug, Default)]
pub struct FtpDataParser {
    sides: [Option<Side>; 2],
    /// Files written so far (numbers their `FileUID`).
    files: u64,
}

impl FtpDataParser {
    fn side(&mut self, dir: Dir, origin: Origin, keep_max: u64) -> Option<&mut Side> {
        let slot = self.sides.get_mut(dir.index())?;
        Some(slot.get_or_insert_with(|| Side {
            content: Content::new(keep_max),
            origin,
            missing: 0,
            truncated: false,
        }))
    }

    /// Writes the File record of `dir`, if it carried anything.
    fn emit(&mut self, dir: Dir, cx: &mut Cx<'_>) {
        let Some(side) = self.sides.get_mut(dir.index()).and_then(Option::take) else {
            return;
        };
        if side.content.is_empty() && side.missing == 0 {
            return;
        }
        self.files += 1;
        let info = FileInfo {
            origin: side.origin,
            source: SOURCE,
            uid: file_uid(&cx.meta.uid, self.files),
            to_server: dir == Dir::ToServer,
            // Stream mode declares no size (the 150 reply may, as text).
            total: -1,
            missing: side.missing,
            truncated: side.truncated,
            ..FileInfo::default()
        };
        info.emit(side.content.finish(), cx);
    }
}

impl StreamParser for FtpDataParser {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        let (origin, keep) = (cx.origin(0), cx.meta.files_max);
        if let Some(side) = self.side(dir, origin, keep) {
            side.content.update(input);
        }
        Ok(Parsed::all(input))
    }

    fn gap(&mut self, dir: Dir, len: u64, cx: &mut Cx<'_>) {
        // The missing bytes are part of the file: it is kept going (its
        // hashes no longer those of the real file) and marked.
        let (origin, keep) = (cx.now, cx.meta.files_max);
        if let Some(side) = self.side(dir, origin, keep) {
            side.missing = side.missing.saturating_add(len);
            side.truncated = true;
        }
    }

    fn end(&mut self, dir: Dir, why: End, cx: &mut Cx<'_>) {
        // Only the sender's FIN says the file is whole: the depth limit, a
        // reset (an aborted transfer) or the connection's end with the
        // direction still open cut it.
        if why != End::Fin {
            if let Some(side) = self.sides.get_mut(dir.index()).and_then(Option::as_mut) {
                side.truncated = true;
            }
        }
        self.emit(dir, cx);
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            if let Some(side) = self.sides.get_mut(dir.index()).and_then(Option::as_mut) {
                side.truncated = true;
            }
            self.emit(dir, cx);
        }
    }

    fn memory(&self) -> usize {
        self.sides
            .iter()
            .flatten()
            .map(|s| s.content.memory())
            .sum()
    }
}

#[cfg(test)]
mod tests;
