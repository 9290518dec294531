//! What a message head says: the record fields it fills, and the facts that
//! frame its body. Every string copied from the wire is capped.

use httparse::Header;
use netcap_schema::{Http, HttpCookie, HttpHeader};

use super::body::Coding;

/// Longest string copied from the wire (header value, URL, cookie value).
pub(super) const STR_MAX: usize = 8 * 1024;
/// Most headers kept per message, cookies per list.
pub(super) const LIST_MAX: usize = 256;

/// A wire string as record text: capped at [`STR_MAX`] bytes, lossy UTF-8.
pub(super) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b.get(..STR_MAX).unwrap_or(b)).into_owned()
}

/// The Content-Length of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    Absent,
    Valid(u64),
    /// Not a number, or several headers that disagree.
    Invalid,
}

impl Length {
    /// As the record writes it (-1: absent or invalid).
    pub(super) fn field(self) -> i64 {
        match self {
            Length::Valid(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Length::Absent | Length::Invalid => -1,
        }
    }
}

/// What frames and codes the body of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Facts {
    pub length: Length,
    /// Transfer-Encoding present.
    pub transfer_encoding: bool,
    /// chunked is the final transfer coding.
    pub chunked: bool,
    pub coding: Coding,
}

/// The body facts of a head's headers.
pub(super) fn facts(headers: &[Header<'_>]) -> Facts {
    let mut f = Facts {
        length: Length::Absent,
        transfer_encoding: false,
        chunked: false,
        coding: Coding::Identity,
    };
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            f.length = merge_length(f.length, h.value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            f.transfer_encoding = true;
            // A later header's codings apply after the earlier ones'.
            if let Some(last) = h.value.split(|&b| b == b',').next_back() {
                let last = last.trim_ascii();
                if !last.is_empty() {
                    f.chunked = last.eq_ignore_ascii_case(b"chunked");
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            f.coding = if f.coding == Coding::Identity {
                Coding::from_header(h.value)
            } else {
                // Several codings: not decoded.
                Coding::Other
            };
        }
    }
    f
}

/// Content-Length over its headers and list members: all must agree (RFC 9110 8.6).
fn merge_length(mut acc: Length, value: &[u8]) -> Length {
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        let n = if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            None
        } else {
            std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        };
        acc = match (acc, n) {
            (Length::Absent, Some(n)) => Length::Valid(n),
            (Length::Valid(a), Some(n)) if a == n => Length::Valid(a),
            _ => Length::Invalid,
        };
    }
    acc
}

/// The headers in the order sent, at most [`LIST_MAX`]; true when more were cut.
fn header_list(headers: &[Header<'_>]) -> (Vec<HttpHeader>, bool) {
    let list = headers
        .iter()
        .take(LIST_MAX)
        .map(|h| HttpHeader {
            name: text(h.name.as_bytes()),
            value: text(h.value),
        })
        .collect();
    (list, headers.len() > LIST_MAX)
}

/// Fills the request fields of `rec` from a parsed request head.
pub(super) fn fill_request(rec: &mut Http, req: &httparse::Request<'_, '_>, facts: &Facts) {
    rec.proto = format!("HTTP/1.{}", req.version.unwrap_or(1));
    rec.method = text(req.method.unwrap_or_default().as_bytes());
    rec.url = text(req.path.unwrap_or_default().as_bytes());
    rec.req_content_length = facts.length.field();
    let (list, cut) = header_list(req.headers);
    rec.request_headers = list;
    rec.headers_truncated |= cut;
    let mut auth_seen = false;
    for h in req.headers.iter() {
        let (name, v) = (h.name.as_bytes(), h.value);
        let set = |field: &mut String| {
            if field.is_empty() {
                *field = text(v);
            }
        };
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => set(&mut rec.host),
            6 if name.eq_ignore_ascii_case(b"cookie") => request_cookies(v, &mut rec.req_cookies),
            6 if name.eq_ignore_ascii_case(b"origin") => set(&mut rec.origin),
            7 if name.eq_ignore_ascii_case(b"referer") => set(&mut rec.referer),
            10 if name.eq_ignore_ascii_case(b"user-agent") => set(&mut rec.user_agent),
            12 if name.eq_ignore_ascii_case(b"content-type") => set(&mut rec.req_content_type),
            15 if name.eq_ignore_ascii_case(b"x-forwarded-for") => set(&mut rec.x_forwarded_for),
            16 if name.eq_ignore_ascii_case(b"content-encoding") => {
                set(&mut rec.req_content_encoding)
            }
            13 if !auth_seen && name.eq_ignore_ascii_case(b"authorization") => {
                auth_seen = true;
                (rec.auth_type, rec.username) = authorization(v);
            }
            // The proxy's credentials when no Authorization header is sent.
            19 if rec.auth_type.is_empty() && name.eq_ignore_ascii_case(b"proxy-authorization") => {
                (rec.auth_type, rec.username) = authorization(v);
            }
            _ => {}
        }
    }
}

/// Fills the response fields of `rec` from a parsed final response head.
pub(super) fn fill_response(rec: &mut Http, res: &httparse::Response<'_, '_>, facts: &Facts) {
    rec.res_proto = format!("HTTP/1.{}", res.version.unwrap_or(1));
    rec.status_code = i32::from(res.code.unwrap_or_default());
    rec.status_msg = text(res.reason.unwrap_or_default().as_bytes());
    rec.res_content_length = facts.length.field();
    let (list, cut) = header_list(res.headers);
    rec.response_headers = list;
    rec.headers_truncated |= cut;
    for h in res.headers.iter() {
        let (name, v) = (h.name.as_bytes(), h.value);
        let set = |field: &mut String| {
            if field.is_empty() {
                *field = text(v);
            }
        };
        match name.len() {
            6 if name.eq_ignore_ascii_case(b"server") => set(&mut rec.server),
            8 if name.eq_ignore_ascii_case(b"location") => set(&mut rec.location),
            10 if name.eq_ignore_ascii_case(b"set-cookie") && rec.res_cookies.len() < LIST_MAX => {
                if let Some(c) = set_cookie(v) {
                    rec.res_cookies.push(c);
                }
            }
            12 if name.eq_ignore_ascii_case(b"content-type") => set(&mut rec.content_type),
            16 if name.eq_ignore_ascii_case(b"content-encoding") => set(&mut rec.content_encoding),
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                set(&mut rec.transfer_encoding)
            }
            _ => {}
        }
    }
}

/// `name=value` split at the first `=`, both trimmed (a name alone has an
/// empty value).
fn pair(item: &[u8]) -> (&[u8], &[u8]) {
    match item.iter().position(|&b| b == b'=') {
        Some(i) => (
            item.get(..i).unwrap_or_default().trim_ascii(),
            item.get(i + 1..).unwrap_or_default().trim_ascii(),
        ),
        None => (item.trim_ascii(), &[]),
    }
}

/// The cookies of a Cookie header (`name=value; name=value`).
fn request_cookies(value: &[u8], out: &mut Vec<HttpCookie>) {
    for item in value.split(|&b| b == b';') {
        if out.len() >= LIST_MAX {
            return;
        }
        let (name, v) = pair(item);
        if name.is_empty() && v.is_empty() {
            continue;
        }
        out.push(HttpCookie {
            name: text(name),
            value: text(v),
            ..HttpCookie::default()
        });
    }
}

/// The cookie of a Set-Cookie header and its attributes.
fn set_cookie(value: &[u8]) -> Option<HttpCookie> {
    let mut items = value.split(|&b| b == b';');
    let (name, v) = pair(items.next()?);
    if name.is_empty() && v.is_empty() {
        return None;
    }
    let mut c = HttpCookie {
        name: text(name),
        value: text(v),
        ..HttpCookie::default()
    };
    for item in items {
        let (attr, v) = pair(item);
        let is = |s: &[u8]| attr.eq_ignore_ascii_case(s);
        if is(b"path") {
            c.path = text(v);
        } else if is(b"domain") {
            c.domain = text(v);
        } else if is(b"expires") {
            c.expires = text(v);
        } else if is(b"max-age") {
            // Unparsable Max-Age is ignored (RFC 6265 5.2.2); 0 stands for absent.
            let n = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok());
            c.max_age = n.unwrap_or(c.max_age);
        } else if is(b"secure") {
            c.secure = true;
        } else if is(b"httponly") {
            c.http_only = true;
        } else if is(b"samesite") {
            c.same_site = text(v);
        }
    }
    Some(c)
}

/// The scheme and user name of an Authorization value: Basic's user (before
/// ':' of the base64 credentials) or Digest's `username` parameter.
fn authorization(value: &[u8]) -> (String, String) {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (
            value.get(..i).unwrap_or_default(),
            value.get(i..).unwrap_or_default().trim_ascii(),
        ),
        None => (value, &[][..]),
    };
    let user = if scheme.eq_ignore_ascii_case(b"basic") {
        let creds = base64(rest.get(..STR_MAX).unwrap_or(rest));
        let end = creds.iter().position(|&b| b == b':').unwrap_or(creds.len());
        text(creds.get(..end).unwrap_or_default())
    } else if scheme.eq_ignore_ascii_case(b"digest") {
        digest_username(rest).map(text).unwrap_or_default()
    } else {
        String::new()
    };
    (text(scheme), user)
}

/// The `username` parameter of Digest credentials, quoted or not.
fn digest_username(params: &[u8]) -> Option<&[u8]> {
    digest_param(params, b"username")
}

/// The method, user name and password (Basic) or response digest (Digest)
/// of an Authorization value; `None` for other schemes.
pub(crate) fn credentials(value: &[u8]) -> Option<(&'static str, String, String)> {
    let value = value.trim_ascii();
    let i = value.iter().position(|&b| b == b' ' || b == b'\t')?;
    let scheme = value.get(..i)?;
    let rest = value.get(i..)?.trim_ascii();
    if scheme.eq_ignore_ascii_case(b"basic") {
        let creds = base64(rest.get(..STR_MAX).unwrap_or(rest));
        let end = creds.iter().position(|&b| b == b':').unwrap_or(creds.len());
        let pass = creds.get(end + 1..).unwrap_or_default();
        Some(("Basic", text(creds.get(..end)?), text(pass)))
    } else if scheme.eq_ignore_ascii_case(b"digest") {
        let user = digest_param(rest, b"username")
            .map(text)
            .unwrap_or_default();
        let response = digest_param(rest, b"response")
            .map(text)
            .unwrap_or_default();
        Some(("Digest", user, response))
    } else {
        None
    }
}

/// A parameter of an auth-param list (Digest), quoted or not.
fn digest_param<'a>(params: &'a [u8], want: &[u8]) -> Option<&'a [u8]> {
    let mut rest = params;
    loop {
        let (name, after) = pair_head(rest)?;
        let (value, after) = match after.strip_prefix(b"\"") {
            Some(q) => {
                // A quoted-string; a backslash escapes the next byte.
                let mut i = 0;
                let mut end = None;
                while let Some(&b) = q.get(i) {
                    match b {
                        b'\\' => i += 2,
                        b'"' => {
                            end = Some(i);
                            break;
                        }
                        _ => i += 1,
                    }
                }
                let end = end?;
                (q.get(..end)?, q.get(end + 1..)?)
            }
            None => {
                let end = after.iter().position(|&b| b == b',').unwrap_or(after.len());
                (after.get(..end)?.trim_ascii(), after.get(end..)?)
            }
        };
        if name.eq_ignore_ascii_case(want) {
            return Some(value);
        }
        let comma = after.iter().position(|&b| b == b',')?;
        rest = after.get(comma + 1..)?;
    }
}

/// The name of the next `name=` of an auth-param list and what follows the `=`.
fn pair_head(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = s.iter().position(|&b| b == b'=')?;
    Some((
        s.get(..eq)?.trim_ascii(),
        s.get(eq + 1..)?.trim_ascii_start(),
    ))
}

/// Decodes standard base64 (padding optional, stops at the first byte
/// outside the alphabet).
pub(super) fn base64(s: &[u8]) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        }))
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.iter().map_while(|&c| val(c)) {
        acc = (acc << 6 | v) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
