//! Session Initiation Protocol messages (RFC 3261): start line and headers.
//! The body (usually SDP) is not decoded.

use netcap_schema::{Sip, SipHeader};

use crate::{DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "SIP";

/// Most headers kept from one message (a bound on memory for hostile input).
pub const MAX_HEADERS: usize = 256;

/// Long names of the compact header forms (RFC 3261 §7.3.3 and the IANA
/// registry).
const COMPACT: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("n", "Identity-Info"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// The parsed start line.
#[derive(Debug, PartialEq, Eq)]
enum StartLine<'a> {
    Request {
        method: &'a str,
        uri: &'a str,
        version: &'a str,
    },
    Response {
        version: &'a str,
        code: u16,
        reason: &'a str,
    },
}

/// Whether `b` is a SIP method token (RFC 3261 §25.1 token characters).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c))
}

/// Whether `s` is a SIP version ("SIP/2.0").
fn is_version(s: &str) -> bool {
    s.strip_prefix("SIP/")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit() || c == b'.'))
}

/// Parses the start line (without its line end).
fn start_line(line: &str) -> Option<StartLine<'_>> {
    let mut parts = line.splitn(3, ' ');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
    if is_version(a) {
        let code: u16 = b.parse().ok().filter(|c| (100..=699).contains(c))?;
        if b.len() != 3 {
            return None;
        }
        return Some(StartLine::Response {
            version: a,
            code,
            reason: c,
        });
    }
    (is_token(a) && !b.is_empty() && is_version(c)).then_some(StartLine::Request {
        method: a,
        uri: b,
        version: c,
    })
}

/// The first line of `payload` (up to CR or LF).
fn first_line(payload: &[u8]) -> Option<&str> {
    let end = payload.iter().position(|&b| b == b'\r' || b == b'\n')?;
    std::str::from_utf8(payload.get(..end)?).ok()
}

/// Whether `payload` begins with a SIP start line.
pub fn starts_message(payload: &[u8]) -> bool {
    first_line(payload).and_then(start_line).is_some()
}

/// Builds the `SIP` record of `payload`. A keep-alive (only line ends, RFC
/// 5626) gives no record; anything else that does not start with a SIP start
/// line is an error.
pub fn record(payload: &[u8], pkt: &PacketInfo<'_>) -> Result<Option<Sip>, DecodeError> {
    if payload.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')) {
        return Ok(None);
    }
    let invalid = DecodeError::Invalid {
        layer: LAYER,
        field: "start line",
    };
    let start = first_line(payload).and_then(start_line).ok_or(invalid)?;
    let mut r = Sip {
        timestamp: pkt.ts_ns,
        packet_number: pkt.number,
        ..Default::default()
    };
    match start {
        StartLine::Request {
            method,
            uri,
            version,
        } => {
            r.method = method.to_string();
            r.request_uri = uri.to_string();
            r.version = version.to_string();
        }
        StartLine::Response {
            version,
            code,
            reason,
        } => {
            r.is_response = true;
            r.version = version.to_string();
            r.status_code = i32::from(code);
            r.status_reason = reason.to_string();
        }
    }
    // Headers end at the first empty line; the body after it is not read.
    let text = String::from_utf8_lossy(payload);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let head = head.split("\n\n").next().unwrap_or_default();
    let mut headers: Vec<SipHeader> = Vec::new();
    for line in head.lines().skip(1) {
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous header's value.
            if let Some(h) = headers.last_mut() {
                h.value.push(' ');
                h.value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if headers.len() >= MAX_HEADERS {
            break;
        }
        let name = name.trim();
        let name = COMPACT
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map_or(name, |(_, long)| long);
        headers.push(SipHeader {
            name: name.to_string(),
            value: value.trim().to_string(),
        });
    }
    for h in &headers {
        let v = h.value.clone();
        match h.name.to_ascii_lowercase().as_str() {
            "from" => r.from = v,
            "to" => r.to = v,
            "call-id" => r.call_id = v,
            "cseq" => r.c_seq = v,
            "via" => r.via.push(v),
            "contact" => r.contact = v,
            "user-agent" => r.user_agent = v,
            "content-type" => r.content_type = v,
            "content-length" => r.content_length = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    r.headers = headers;
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 6,
            ts_ns: 7,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn request_with_compact_and_folded_headers() {
        let b = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776\r\n\
Via: SIP/2.0/UDP proxy.example.com\r\n\
f: Alice <sip:alice@example.com>;tag=1928\r\n\
t: Bob <sip:bob@example.com>\r\n\
i: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:alice@pc33.example.com>\r\n\
User-Agent: softphone\r\n\
\t1.0\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\n";
        let r = record(b, &pkt(b)).unwrap().unwrap();
        assert!(!r.is_response);
        assert_eq!(
            (
                r.method.as_str(),
                r.request_uri.as_str(),
                r.version.as_str()
            ),
            ("INVITE", "sip:bob@example.com", "SIP/2.0")
        );
        assert_eq!(r.via.len(), 2);
        assert_eq!(r.from, "Alice <sip:alice@example.com>;tag=1928");
        assert_eq!(
            (r.to.as_str(), r.call_id.as_str()),
            ("Bob <sip:bob@example.com>", "a84b4c76e66710")
        );
        assert_eq!(
            (r.c_seq.as_str(), r.contact.as_str()),
            ("314159 INVITE", "<sip:alice@pc33.example.com>")
        );
        assert_eq!(
            (
                r.user_agent.as_str(),
                r.content_type.as_str(),
                r.content_length
            ),
            ("softphone 1.0", "application/sdp", 4)
        );
        let names: Vec<_> = r.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Via",
                "Via",
                "From",
                "To",
                "Call-ID",
                "CSeq",
                "Contact",
                "User-Agent",
                "Content-Type",
                "Content-Length"
            ]
        );
        assert_eq!((r.timestamp, r.packet_number), (7, 6));
    }

    #[test]
    fn response_keepalive_and_garbage() {
        let b = b"SIP/2.0 180 Ringing\r\nCall-ID: x\r\n\r\n";
        let r = record(b, &pkt(b)).unwrap().unwrap();
        assert!(r.is_response);
        assert_eq!(
            (r.status_code, r.status_reason.as_str(), r.call_id.as_str()),
            (180, "Ringing", "x")
        );
        assert_eq!(record(b"\r\n\r\n", &pkt(b)).unwrap(), None);
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"SIP/2.0 99 x\r\n",
            b"\x00\x01\x02",
            b"INVITE sip:x SIP/2.0",
        ] {
            assert!(record(bad, &pkt(b)).is_err(), "{bad:?}");
            assert!(!starts_message(bad));
        }
        assert!(starts_message(b"BYE sip:x SIP/2.0\r\n"));
    }
}
