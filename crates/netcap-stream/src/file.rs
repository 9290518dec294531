//! Files carried by streams: the content of an HTTP body or a MIME part is
//! hashed (MD5, SHA-1, SHA-256) and sniffed as it streams through a
//! [`Content`], and kept in memory only when extraction is on (`--files`),
//! up to [`ConnMeta::files_max`](crate::ConnMeta) bytes. [`FileInfo::emit`]
//! writes the [`File`] record.

use md5::{Digest, Md5};
use netcap_schema::File;
use sha1::Sha1;
use sha2::Sha256;

use crate::magic;
use crate::parser::{Cx, Origin};
use crate::records::{FileOut, StreamRecord};
use netcap_decode::text::hex;

/// Bytes of the start of a file kept for the magic-number sniffing (Zeek
/// looks at 4096, libmagic at more; the signatures of [`magic`] need less).
pub const SNIFF_LEN: usize = 4096;

/// A file's content streaming through: counted, hashed, its first bytes
/// kept for sniffing, and all of it kept when extraction is on.
#[derive(Debug)]
pub struct Content {
    len: u64,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    head: Vec<u8>,
    /// The content, when extraction is on and it fits the cap so far.
    keep: Option<Vec<u8>>,
    keep_max: u64,
    /// Larger than the extraction cap.
    cutoff: bool,
}

/// What is known of a file once its content ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    /// Bytes seen.
    pub len: u64,
    /// Lower-case hex digests (empty for an empty file).
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// MIME type sniffed from the first bytes.
    pub detected: &'static str,
    /// The content, when extraction is on and it was within the cap.
    pub data: Option<Vec<u8>>,
    /// Extraction was on but the content was over the cap.
    pub cutoff: bool,
}

impl Content {
    /// A new file; `keep_max` > 0 keeps up to that many bytes for extraction.
    pub fn new(keep_max: u64) -> Content {
        Content {
            len: 0,
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            head: Vec::new(),
            keep: (keep_max > 0).then(Vec::new),
            keep_max,
            cutoff: false,
        }
    }

    /// The next bytes of the content.
    pub fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len = self.len.saturating_add(data.len() as u64);
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
        let room = SNIFF_LEN.saturating_sub(self.head.len());
        if room > 0 {
            self.head
                .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
        if let Some(k) = &mut self.keep {
            if self.len > self.keep_max {
                // Over the cap: what was kept is given back at once.
                self.keep = None;
                self.cutoff = true;
            } else {
                k.extend_from_slice(data);
            }
        }
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (the hashers' state, the sniffed head, the kept content).
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.head.capacity()
            + self.keep.as_ref().map_or(0, Vec::capacity)
    }

    /// Ends the content.
    pub fn finish(self) -> Digests {
        if self.len == 0 {
            return Digests {
                detected: magic::detect(&[]),
                data: self.keep,
                ..Digests::default()
            };
        }
        Digests {
            len: self.len,
            md5: hex(&self.md5.finalize()),
            sha1: hex(&self.sha1.finalize()),
            sha256: hex(&self.sha256.finalize()),
            detected: magic::detect(&self.head),
            data: self.keep,
            cutoff: self.cutoff,
        }
    }
}

/// The UID of a connection's `n`-th file (1-based).
pub fn file_uid(conn_uid: &str, n: u64) -> String {
    format!("{conn_uid}.F{n}")
}

/// The UID of a connection's `n`-th mail (1-based).
pub fn mail_uid(conn_uid: &str, n: u64) -> String {
    format!("{conn_uid}.M{n}")
}

/// What the protocol knows of a file, besides its content.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileInfo {
    /// First packet of the message that carried it.
    pub origin: Origin,
    pub source: &'static str,
    pub uid: String,
    pub mail_id: String,
    pub name: String,
    pub content_type: String,
    pub host: String,
    pub to_server: bool,
    pub total: i64,
    pub missing: u64,
    pub truncated: bool,
    pub depth: i32,
    pub encoding: String,
}

impl FileInfo {
    /// Emits the File record of this file with its digests.
    pub fn emit(self, d: Digests, cx: &mut Cx<'_>) {
        let m = cx.meta;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let truncated = self.truncated || self.missing > 0;
        let rec = File {
            timestamp: self.origin.ts_ns,
            name: self.name,
            length: n(d.len),
            hash: d.md5,
            location: String::new(),
            ident: format!(
                "{}:{}->{}:{}",
                m.client_ip(),
                m.client.1,
                m.server_ip(),
                m.server.1
            ),
            source: self.source.to_string(),
            content_type: self.content_type,
            host: self.host,
            content_type_detected: d.detected.to_string(),
            src_ip: m.client_ip(),
            dst_ip: m.server_ip(),
            src_port: m.client_port(),
            dst_port: m.server_port(),
            packet_number: self.origin.number,
            connection_uid: m.uid.clone(),
            file_uid: self.uid,
            mail_id: self.mail_id,
            to_server: self.to_server,
            sha1: d.sha1,
            sha256: d.sha256,
            total_bytes: self.total,
            missing_bytes: n(self.missing),
            truncated,
            state: if truncated { "TRUNCATED" } else { "CLOSED" }.to_string(),
            depth: self.depth,
            encoding: self.encoding,
            extracted_cutoff: d.cutoff,
            ..File::default()
        };
        cx.emit(StreamRecord::File(Box::new(FileOut { rec, data: d.data })));
    }
}

/// The last path segment of a URL (query and fragment removed,
/// percent-decoding not applied).
pub(crate) fn url_basename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    // An absolute URL (proxy request): the path starts after the authority.
    let path = match path.find("://") {
        Some(i) => path
            .get(i + 3..)
            .and_then(|r| r.find('/').and_then(|j| r.get(j..)))
            .unwrap_or(""),
        None => path,
    };
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// The value of parameter `name` of a header value such as Content-Type or
/// Content-Disposition (`type; a=b; name="x y"`), quotes removed; RFC 2231
/// continuations (`filename*0=`, `filename*=UTF-8''...`) are joined and
/// percent-decoded.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    let mut pieces: Vec<(u32, String, bool)> = Vec::new();
    for param in split_params(value).into_iter().skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let v = unquote(v.trim());
        if k.eq_ignore_ascii_case(name) {
            plain.get_or_insert(v);
        } else if let Some(rest) = k
            .get(..name.len())
            .filter(|p| p.eq_ignore_ascii_case(name))
            .and_then(|_| k.get(name.len()..))
            .and_then(|r| r.strip_prefix('*'))
        {
            if rest.is_empty() {
                extended.get_or_insert(v);
            } else {
                let (num, enc) = match rest.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (rest, false),
                };
                if let Ok(i) = num.parse::<u32>() {
                    if pieces.len() < 64 {
                        pieces.push((i, v, enc));
                    }
                }
            }
        }
    }
    if let Some(v) = extended {
        return Some(decode_2231(&v, true));
    }
    if !pieces.is_empty() {
        pieces.sort_by_key(|p| p.0);
        let mut s = String::new();
        for (i, (_, v, enc)) in pieces.iter().enumerate() {
            s.push_str(&if *enc {
                decode_2231(v, i == 0)
            } else {
                v.clone()
            });
        }
        return Some(s);
    }
    plain
}

/// `charset'lang'percent-encoded` (RFC 2231): the charset is assumed UTF-8
/// compatible (invalid bytes are replaced).
fn decode_2231(v: &str, with_charset: bool) -> String {
    let enc = if with_charset {
        v.splitn(3, '\'').nth(2).unwrap_or(v)
    } else {
        v
    };
    let b = enc.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hexval = |c: u8| char::from(c).to_digit(16);
        match (c, b.get(i + 1), b.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => match (hexval(h), hexval(l)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(c),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a header value at the semicolons outside quoted strings.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default());
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"') {
        Some(inner) => {
            let inner = inner.strip_suffix('"').unwrap_or(inner);
            let mut s = String::with_capacity(inner.len());
            let mut esc = false;
            for c in inner.chars() {
                if esc || c != '\\' {
                    s.push(c);
                    esc = false;
                } else {
                    esc = true;
                }
            }
            s
        }
        None => v.to_string(),
    }
}

/// The type of a Content-Type value without parameters, lower case.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hashes_match_published_vectors() {
        // FIPS 180 / RFC 1321 test vectors for "abc".
        let mut c = Content::new(0);
        c.update(b"a");
        c.update(b"bc");
        let d = c.finish();
        assert_eq!(d.len, 3);
        assert_eq!(d.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.data, None);
    }

    #[test]
    fn content_is_kept_up_to_the_cap() {
        let mut c = Content::new(4);
        c.update(b"ab");
        c.update(b"cd");
        assert_eq!(c.finish().data.as_deref(), Some(&b"abcd"[..]));
        let mut c = Content::new(4);
        c.update(b"abc");
        c.update(b"de");
        let d = c.finish();
        assert_eq!((d.data, d.cutoff), (None, true));
    }

    #[test]
    fn names_and_params() {
        assert_eq!(url_basename("/a/b/c.exe?x=/y#z"), "c.exe");
        assert_eq!(url_basename("http://h.example/dir/f.pdf"), "f.pdf");
        assert_eq!(url_basename("http://h.example"), "");
        assert_eq!(url_basename("/"), "");
        let cd = r#"attachment; filename="a \"b\"; c.txt"; size=3"#;
        assert_eq!(
            header_param(cd, "filename").as_deref(),
            Some(r#"a "b"; c.txt"#)
        );
        assert_eq!(header_param(cd, "size").as_deref(), Some("3"));
        // RFC 2231 section 4 and 3 examples.
        let ext = "attachment; filename*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A";
        assert_eq!(
            header_param(ext, "filename").as_deref(),
            Some("This is ***fun***")
        );
        let cont = "message/external-body; access-type=URL; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"";
        assert_eq!(
            header_param(cont, "url").as_deref(),
            Some("ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        );
        assert_eq!(header_param("text/plain", "charset"), None);
        assert_eq!(media_type(" Text/HTML ; charset=utf-8"), "text/html");
    }
}
