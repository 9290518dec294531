//! Where HTTP messages start and end on the wire: the probe that recognises a
//! stream, the points a direction resynchronises on after a gap or garbage,
//! and the parse of a complete head by `httparse`.

use crate::parser::{Dir, Probe};

use super::HEADERS_INLINE;

/// Longest request line tried while resynchronising.
const LINE_MAX: usize = 8 * 1024;

/// Request methods recognised at the start of a stream and when
/// resynchronising: RFC 9110, PATCH, WebDAV and its extensions (the methods
/// Zeek and Suricata know).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"TRACE",
    b"CONNECT",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"POLL",
    b"REPORT",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"NOTIFY",
    b"BMOVE",
    b"BCOPY",
    b"BDELETE",
    b"BPROPFIND",
    b"BPROPPATCH",
    b"SEARCH",
    b"CHECKOUT",
    b"CHECKIN",
    b"UNCHECKOUT",
    b"VERSION-CONTROL",
    b"MKWORKSPACE",
    b"UPDATE",
    b"LABEL",
    b"MERGE",
    b"BASELINE-CONTROL",
    b"MKACTIVITY",
    b"ORDERPATCH",
    b"ACL",
    b"MKCALENDAR",
    b"MKREDIRECTREF",
    b"UPDATEREDIRECTREF",
    b"BIND",
    b"UNBIND",
    b"REBIND",
    b"LINK",
    b"UNLINK",
    b"PURGE",
];

/// Recognises the first bytes of a direction: a known method and a space
/// (client), `HTTP/1.` (server).
pub(super) fn probe(dir: Dir, data: &[u8], _port_hint: bool) -> Probe {
    match dir {
        Dir::ToServer => {
            let mut more = false;
            for m in METHODS {
                match data.strip_prefix(*m).map(<[u8]>::first) {
                    Some(Some(b' ')) => return Probe::Yes,
                    Some(None) => more = true,
                    Some(Some(_)) => {}
                    None => more |= m.starts_with(data),
                }
            }
            if more {
                Probe::NeedMore
            } else {
                Probe::No
            }
        }
        Dir::ToClient => prefix(data, b"HTTP/1."),
    }
}

/// Whether `data` starts with `want` (NeedMore while a prefix of it).
fn prefix(data: &[u8], want: &[u8]) -> Probe {
    if data.starts_with(want) {
        Probe::Yes
    } else if want.starts_with(data) {
        Probe::NeedMore
    } else {
        Probe::No
    }
}

/// Whether a head may start here: a token and a space (any method, the
/// client), `HTTP/` (the server).
pub(super) fn head_start(dir: Dir, data: &[u8]) -> Probe {
    match dir {
        Dir::ToServer => {
            let token = data.iter().take_while(|&&b| is_tchar(b)).count();
            match data.get(token) {
                Some(b' ') if token > 0 => Probe::Yes,
                None if token <= 32 => Probe::NeedMore,
                _ => Probe::No,
            }
        }
        Dir::ToClient => prefix(data, b"HTTP/"),
    }
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a line that resynchronises the direction starts here: a full
/// request line `METHOD SP target SP HTTP/1.x` with a known method (client),
/// `HTTP/1.x SP ddd` (server).
pub(super) fn resync_point(dir: Dir, data: &[u8]) -> Probe {
    match dir {
        Dir::ToServer => match probe(dir, data, false) {
            Probe::Yes => {}
            other => return other,
        },
        Dir::ToClient => {
            const SHAPE: &[u8] = b"HTTP/1.d ddd";
            for (i, want) in SHAPE.iter().enumerate() {
                let Some(&b) = data.get(i) else {
                    return Probe::NeedMore;
                };
                let ok = if *want == b'd' {
                    b.is_ascii_digit()
                } else {
                    b == *want
                };
                if !ok {
                    return Probe::No;
                }
            }
            return Probe::Yes;
        }
    }
    let window = data.get(..LINE_MAX).unwrap_or(data);
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        return if data.len() >= LINE_MAX {
            Probe::No
        } else {
            Probe::NeedMore
        };
    };
    let line = window.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let ok = matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(target), Some(version), None)
            if !target.is_empty()
                && matches!(version, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit())
    );
    if ok {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// The end of a head (just past its blank line), if it is in `data`.
pub(super) fn head_end(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = data.get(from..)?.iter().position(|&b| b == b'\n') {
        let nl = from + i;
        match data.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => from = nl + 1,
        }
    }
    None
}

/// The lenient parser configuration (what browsers accept from servers).
pub(super) fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

/// Parses a complete request head and hands it to `f`.
pub(super) fn with_request<R>(
    head: &[u8],
    f: impl FnOnce(&httparse::Request<'_, '_>, usize) -> R,
) -> Result<R, httparse::Error> {
    let cfg = config();
    let mut inline = [httparse::EMPTY_HEADER; HEADERS_INLINE];
    let mut req = httparse::Request::new(&mut inline);
    match cfg.parse_request(&mut req, head) {
        Ok(httparse::Status::Complete(n)) => return Ok(f(&req, n)),
        Ok(httparse::Status::Partial) => return Err(httparse::Error::Token),
        Err(httparse::Error::TooManyHeaders) => {}
        Err(e) => return Err(e),
    }
    let mut many = vec![httparse::EMPTY_HEADER; lines(head)];
    let mut req = httparse::Request::new(&mut many);
    match cfg.parse_request(&mut req, head)? {
        httparse::Status::Complete(n) => Ok(f(&req, n)),
        httparse::Status::Partial => Err(httparse::Error::Token),
    }
}

/// Parses a complete response head and hands it to `f`.
pub(super) fn with_response<R>(
    head: &[u8],
    f: impl FnOnce(&httparse::Response<'_, '_>, usize) -> R,
) -> Result<R, httparse::Error> {
    let cfg = config();
    let mut inline = [httparse::EMPTY_HEADER; HEADERS_INLINE];
    let mut res = httparse::Response::new(&mut inline);
    match cfg.parse_response(&mut res, head) {
        Ok(httparse::Status::Complete(n)) => return Ok(f(&res, n)),
        Ok(httparse::Status::Partial) => return Err(httparse::Error::Token),
        Err(httparse::Error::TooManyHeaders) => {}
        Err(e) => return Err(e),
    }
    let mut many = vec![httparse::EMPTY_HEADER; lines(head)];
    let mut res = httparse::Response::new(&mut many);
    match cfg.parse_response(&mut res, head)? {
        httparse::Status::Complete(n) => Ok(f(&res, n)),
        httparse::Status::Partial => Err(httparse::Error::Token),
    }
}

/// Line count of a head: the most headers it can hold.
fn lines(head: &[u8]) -> usize {
    head.iter().filter(|&&b| b == b'\n').count() + 1
}
