//! X.509 certificates of a Certificate message, decoded with `x509-parser`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use netcap_schema::X509Certificate as Record;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::oid_registry::{Oid, OID_KEY_TYPE_EC_PUBLIC_KEY};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use netcap_decode::text::hex;

/// Certificates decoded recently on this thread (a pipeline worker), by the
/// SHA-256 of their DER: the same few certificates come back in connection
/// after connection, and decoding one costs far more than its hash (Zeek
/// deduplicates its x509.log for the same reason). Bounded, first in first out.
const CACHED: usize = 512;

#[derive(Default)]
struct Cache {
    parsed: HashMap<[u8; 32], Record>,
    order: VecDeque<[u8; 32]>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Fills the certificate fields of `rec` (everything but the connection,
/// origin, chain index and direction) from one DER certificate. A DER that
/// does not parse still gets its length and fingerprints, and `ParseError`.
pub(crate) fn fill(rec: &mut Record, der: &[u8]) {
    let digest: [u8; 32] = Sha256::digest(der).into();
    let cert = CACHE.with(|c| c.borrow().parsed.get(&digest).cloned());
    let cert = match cert {
        Some(c) => c,
        None => {
            let mut c = Record::default();
            decode(&mut c, der, &digest);
            CACHE.with(|cache| {
                let mut cache = cache.borrow_mut();
                if cache.order.len() >= CACHED {
                    if let Some(old) = cache.order.pop_front() {
                        cache.parsed.remove(&old);
                    }
                }
                cache.order.push_back(digest);
                cache.parsed.insert(digest, c.clone());
            });
            c
        }
    };
    rec.length = cert.length;
    rec.sha1 = cert.sha1;
    rec.sha256 = cert.sha256;
    rec.parse_error = cert.parse_error;
    rec.version = cert.version;
    rec.serial = cert.serial;
    rec.subject = cert.subject;
    rec.issuer = cert.issuer;
    rec.subject_cn = cert.subject_cn;
    rec.issuer_cn = cert.issuer_cn;
    rec.self_signed = cert.self_signed;
    rec.not_before = cert.not_before;
    rec.not_after = cert.not_after;
    rec.sig_alg = cert.sig_alg;
    rec.key_alg = cert.key_alg;
    rec.key_length = cert.key_length;
    rec.curve = cert.curve;
    rec.sandns = cert.sandns;
    rec.sanip = cert.sanip;
    rec.san_email = cert.san_email;
    rec.sanuri = cert.sanuri;
    rec.ca = cert.ca;
    rec.path_len = cert.path_len;
}

/// Decodes the certificate fields of one DER certificate into `rec`.
fn decode(rec: &mut Record, der: &[u8], sha256: &[u8; 32]) {
    rec.length = i32::try_from(der.len()).unwrap_or(i32::MAX);
    rec.sha1 = hex(&Sha1::digest(der));
    rec.sha256 = hex(sha256);
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            rec.parse_error = e.to_string();
            return;
        }
    };
    rec.version = i32::try_from(cert.version().0).map_or(0, |v| v.saturating_add(1));
    rec.serial = hex(cert.raw_serial());
    rec.subject = rfc4514(cert.subject());
    rec.issuer = rfc4514(cert.issuer());
    rec.subject_cn = first_cn(cert.subject());
    rec.issuer_cn = first_cn(cert.issuer());
    rec.self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
    let validity = cert.validity();
    rec.not_before = time_ns(validity.not_before.to_datetime().unix_timestamp_nanos());
    rec.not_after = time_ns(validity.not_after.to_datetime().unix_timestamp_nanos());
    rec.sig_alg = oid_name(&cert.signature_algorithm.algorithm);
    key(rec, &cert);
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) => rec.sandns.push((*s).to_string()),
                GeneralName::RFC822Name(s) => rec.san_email.push((*s).to_string()),
                GeneralName::URI(s) => rec.sanuri.push((*s).to_string()),
                GeneralName::IPAddress(b) => rec.sanip.push(ip_text(b)),
                _ => {}
            }
        }
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) => {
            rec.ca = bc.value.ca;
            // -1: no pathLenConstraint (0 is a real constraint).
            rec.path_len = bc
                .value
                .path_len_constraint
                .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
        }
        _ => rec.path_len = -1,
    }
}

/// Nanoseconds since the epoch, clamped to what an i64 holds (dates past 2262).
fn time_ns(ns: i128) -> i64 {
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// An OID's short name (sha256WithRSAEncryption), else its dotted form.
fn oid_name(oid: &Oid<'_>) -> String {
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_string)
}

/// Key algorithm, size in bits and curve.
fn key(rec: &mut Record, cert: &X509Certificate<'_>) {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    rec.key_alg = match oid_name(alg).as_str() {
        "rsaEncryption" => "rsa".to_string(),
        "id-ecPublicKey" => "ecdsa".to_string(),
        "dsa" => "dsa".to_string(),
        other => other.to_string(),
    };
    if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        if let Some(curve) = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
        {
            rec.curve = oid_name(&curve);
        }
    }
    let bits = match spki.parsed() {
        // x509-parser's RSA size gives 0 when the modulus has no leading 0.
        Ok(PublicKey::RSA(rsa)) => bit_len(rsa.modulus),
        Ok(k) => k.key_size(),
        Err(_) => 0,
    };
    rec.key_length = match rec.key_alg.as_str() {
        "ed25519" => 256,
        "ed448" => 456,
        _ => i32::try_from(bits).unwrap_or(0),
    };
}

/// Bits of a big-endian unsigned integer, leading zeros left out.
fn bit_len(n: &[u8]) -> usize {
    let mut it = n.iter().skip_while(|b| **b == 0);
    match it.next() {
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * it.count(),
        None => 0,
    }
}

/// An IPv4 or IPv6 address of a SAN; other lengths in hex.
fn ip_text(b: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(b) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    hex(b)
}

/// The first common name, as text.
fn first_cn(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .map(value_text)
        .unwrap_or_default()
}

/// Short attribute names of RFC 4514 §3 (plus emailAddress as OpenSSL writes it).
fn attr_name(oid: &Oid<'_>) -> String {
    let s = oid.to_id_string();
    let short = match s.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return s,
    };
    short.to_string()
}

/// An attribute value as text: the string types as they are, BMPString
/// decoded, anything else `#` and the hex of its DER (RFC 4514 §2.4).
fn value_text(atv: &AttributeTypeAndValue<'_>) -> String {
    value(atv).0
}

/// The value's text, and whether it is the `#` hex form (not to be escaped).
fn value(atv: &AttributeTypeAndValue<'_>) -> (String, bool) {
    if let Ok(s) = atv.as_str() {
        return (s.to_string(), false);
    }
    let any = atv.attr_value();
    match any.tag().0 {
        // TeletexString, UniversalString are rare: Latin-1-ish bytes shown lossily.
        0x14 | 0x1a => (String::from_utf8_lossy(any.data).into_owned(), false),
        // BMPString: UTF-16BE.
        0x1e => {
            let units: Vec<u16> = any
                .data
                .chunks_exact(2)
                .map(|c| c.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
                .collect();
            (String::from_utf16_lossy(&units), false)
        }
        _ => (format!("#{}", hex(any.data)), true),
    }
}

/// Escapes a value per RFC 4514 §2.4.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

/// A distinguished name as RFC 4514 writes it: last RDN first, `,` between
/// RDNs, `+` inside a multi-valued RDN (as Zeek and Go's pkix do).
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let (v, raw) = value(atv);
                    let v = if raw { v } else { escape(&v) };
                    format!("{}={v}", attr_name(atv.attr_type()))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}
