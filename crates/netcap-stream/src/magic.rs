//! Content type sniffing by magic numbers: a small table of the
//! signatures of the usual file types, named as `file --mime-type`
//! (libmagic) names them, so that the File record's `ContentTypeDetected`
//! can be compared with it. Only the first bytes are looked at
//! ([`crate::file::SNIFF_LEN`]); what matches nothing is `text/plain` when
//! it is text, else `application/octet-stream`.

/// The MIME type of content starting with `head`.
pub fn detect(head: &[u8]) -> &'static str {
    if head.is_empty() {
        return "application/x-empty";
    }
    if let Some(t) = binary(head) {
        return t;
    }
    text(head)
}

/// Signatures at fixed offsets.
fn binary(h: &[u8]) -> Option<&'static str> {
    let at = |off: usize, sig: &[u8]| h.get(off..off + sig.len()) == Some(sig);
    let t = match h {
        [0x7f, b'E', b'L', b'F', ..] => elf(h),
        [b'M', b'Z', ..] => pe(h),
        [0xfe, 0xed, 0xfa, 0xce | 0xcf, ..] | [0xce | 0xcf, 0xfa, 0xed, 0xfe, ..] => {
            "application/x-mach-binary"
        }
        // Fat Mach-O and Java class files share CAFEBABE: a class file's
        // major version (bytes 6-7) is 45 or more, a fat binary's
        // architecture count is small.
        [0xca, 0xfe, 0xba, 0xbe, _, _, hi, lo, ..] => {
            if u16::from_be_bytes([*hi, *lo]) >= 45 {
                "application/x-java-applet"
            } else {
                "application/x-mach-binary"
            }
        }
        [b'%', b'P', b'D', b'F', b'-', ..] => "application/pdf",
        [b'P', b'K', 3, 4, ..] => zip(h),
        [b'P', b'K', 5, 6, ..] | [b'P', b'K', 7, 8, ..] => "application/zip",
        [0x1f, 0x8b, ..] => "application/gzip",
        [b'B', b'Z', b'h', ..] => "application/x-bzip2",
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => "application/x-xz",
        [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => "application/x-7z-compressed",
        [b'R', b'a', b'r', b'!', 0x1a, 0x07, ..] => "application/x-rar",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "application/zstd",
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => "image/gif",
        [b'B', b'M', _, _, _, _, 0, 0, 0, 0, ..] => "image/bmp",
        [0, 0, 1, 0, n, 0, ..] if *n > 0 => "image/vnd.microsoft.icon",
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => "image/tiff",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "audio/x-wav",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'A', b'V', b'I', b' ', ..] => "video/x-msvideo",
        [b'O', b'g', b'g', b'S', ..] => "audio/ogg",
        [b'I', b'D', b'3', ..] => "audio/mpeg",
        [b'f', b'L', b'a', b'C', ..] => "audio/flac",
        [0x1a, 0x45, 0xdf, 0xa3, ..] => "video/webm",
        [b'F' | b'C' | b'Z', b'W', b'S', ..] => "application/x-shockwave-flash",
        [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, ..] => "application/x-ole-storage",
        [0, b'a', b's', b'm', ..] => "application/wasm",
        [b'w', b'O', b'F', b'F', ..] => "font/woff",
        [b'w', b'O', b'F', b'2', ..] => "font/woff2",
        [b'{', b'\\', b'r', b't', b'f', ..] => "text/rtf",
        [b'!', b'<', b'a', b'r', b'c', b'h', b'>', b'\n', ..] => {
            if at(8, b"debian-binary") {
                "application/vnd.debian.binary-package"
            } else {
                "application/x-archive"
            }
        }
        [0xed, 0xab, 0xee, 0xdb, ..] => "application/x-rpm",
        [b'S', b'Q', b'L', b'i', b't', b'e', b' ', b'f', b'o', b'r', b'm', b'a', b't', b' ', b'3', 0, ..] => {
            "application/vnd.sqlite3"
        }
        _ if at(4, b"ftyp") => "video/mp4",
        _ if at(257, b"ustar") => "application/x-tar",
        _ => return None,
    };
    Some(t)
}

/// ELF: the object type (e_type, in the file's byte order) tells
/// executables, shared objects (PIE executables among them when they have
/// an interpreter, which needs the program headers: not looked at) and
/// relocatable objects apart.
fn elf(h: &[u8]) -> &'static str {
    let big = h.get(5) == Some(&2);
    let e_type = match h.get(16..18) {
        Some(&[a, b]) if big => u16::from_be_bytes([a, b]),
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    };
    match e_type {
        1 => "application/x-object",
        2 => "application/x-executable",
        3 => "application/x-sharedlib",
        4 => "application/x-coredump",
        _ => "application/octet-stream",
    }
}

/// MZ: a PE image when the header at e_lfanew says "PE\0\0", else DOS.
fn pe(h: &[u8]) -> &'static str {
    let lfanew = h
        .get(0x3c..0x40)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .and_then(|v| usize::try_from(v).ok());
    match lfanew.and_then(|o| h.get(o..o.checked_add(4)?)) {
        Some(b"PE\0\0") => "application/vnd.microsoft.portable-executable",
        _ => "application/x-dosexec",
    }
}

/// ZIP: the first entries' names tell OOXML, OpenDocument/EPUB (the
/// `mimetype` entry first, stored), JAR and APK from a plain archive.
fn zip(h: &[u8]) -> &'static str {
    let le16 = |off: usize| match h.get(off..off + 2) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        _ => 0,
    };
    let name_len = le16(26);
    let name = h.get(30..30 + name_len).unwrap_or_default();
    if name == b"mimetype" {
        let extra = le16(28);
        let at = 30 + name_len + extra;
        let content = h.get(at..).unwrap_or_default();
        for t in [
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.oasis.opendocument.graphics",
            "application/epub+zip",
        ] {
            if content.starts_with(t.as_bytes()) {
                return t;
            }
        }
        return "application/zip";
    }
    let has = |n: &[u8]| h.windows(n.len()).any(|w| w == n);
    if name == b"[Content_Types].xml"
        || name.starts_with(b"_rels/")
        || name.starts_with(b"docProps/")
    {
        if has(b"word/") {
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        }
        if has(b"xl/") {
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        }
        if has(b"ppt/") {
            return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
        }
    }
    if name == b"META-INF/MANIFEST.MF" || (name == b"META-INF/" && has(b"META-INF/MANIFEST.MF")) {
        return "application/java-archive";
    }
    if name == b"AndroidManifest.xml" || name == b"classes.dex" {
        return "application/vnd.android.package-archive";
    }
    "application/zip"
}

/// Text: markup by its first tag, JSON by its first character, else plain
/// text when the bytes are UTF-8 (or Latin-1) text without control bytes.
fn text(h: &[u8]) -> &'static str {
    let body = h
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(h)
        .trim_ascii_start();
    let starts_ci = |p: &[u8]| {
        body.get(..p.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(p))
    };
    if starts_ci(b"<?xml") {
        return if contains_ci(body, b"<svg") {
            "image/svg+xml"
        } else {
            "text/xml"
        };
    }
    if starts_ci(b"<svg") {
        return "image/svg+xml";
    }
    if !is_text(h) {
        return "application/octet-stream";
    }
    // libmagic tries JSON before its magic entries.
    if matches!(body.first(), Some(b'{' | b'[')) && looks_json(body) {
        return "application/json";
    }
    // libmagic's HTML test (magic/Magdir/sgml): one of these tags anywhere
    // in the first 4096 bytes of a text, case-insensitive, the names
    // followed by a word boundary.
    const HTML: &[&[u8]] = &[
        b"<!doctype html",
        b"<head",
        b"<title",
        b"<html",
        b"<script",
        b"<style",
        b"<table",
        b"<a href=",
    ];
    let window = h.get(..4096).unwrap_or(h);
    let tag_at = |i: usize, tag: &[u8]| {
        window
            .get(i..i + tag.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(tag))
            && (tag.ends_with(b"=")
                || tag.ends_with(b" html")
                || !window
                    .get(i + tag.len())
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_'))
    };
    // Every tag starts with '<': only those positions are tried (a scan
    // of every position for every tag cost ~70,000 instructions a file).
    let html = window
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == b'<')
        .any(|(i, _)| HTML.iter().any(|t| tag_at(i, t)));
    if html {
        return "text/html";
    }
    "text/plain"
}

/// Whether the bytes are text: no control bytes other than the usual
/// white space, and either UTF-8 (a sequence cut at the end is allowed) or
/// 8-bit text.
fn is_text(h: &[u8]) -> bool {
    if h.iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x08) || b == 0x7f)
    {
        return false;
    }
    match std::str::from_utf8(h) {
        Ok(_) => true,
        // A cut at the end of the sniffed window is not an error.
        Err(e) => e.error_len().is_none() || h.iter().all(|&b| !(0x80..0xa0).contains(&b)),
    }
}

/// A JSON value's start: an object whose first key is a string, or an
/// array of values.
fn looks_json(b: &[u8]) -> bool {
    let rest = b.get(1..).unwrap_or_default().trim_ascii_start();
    match (b.first(), rest.first()) {
        (Some(b'{'), Some(b'"' | b'}')) => true,
        (Some(b'['), Some(c)) => {
            matches!(c, b'"' | b'{' | b'[' | b']' | b'-' | b't' | b'f' | b'n') || c.is_ascii_digit()
        }
        _ => false,
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(detect(b""), "application/x-empty");
        assert_eq!(detect(b"%PDF-1.4\n"), "application/pdf");
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(detect(b"GIF89a\x01\0"), "image/gif");
        assert_eq!(detect(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(detect(b"\x1f\x8b\x08\0"), "application/gzip");
        assert_eq!(detect(b"hello world\n"), "text/plain");
        assert_eq!(detect(b"  <!DOCTYPE HTML>\n<html>"), "text/html");
        assert_eq!(detect(b"<?xml version=\"1.0\"?><a/>"), "text/xml");
        assert_eq!(detect(b"{\"a\": 1}"), "application/json");
        assert_eq!(detect(b"\0\x01\x02\x03"), "application/octet-stream");
        let mut pe = vec![0u8; 0x90];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(detect(&pe), "application/vnd.microsoft.portable-executable");
        pe[0x80] = b'X';
        assert_eq!(detect(&pe), "application/x-dosexec");
        // Truncated inputs never panic.
        for n in 0..pe.len() {
            let _ = detect(&pe[..n]);
        }
    }

    #[test]
    fn html_tags_need_a_word_boundary_within_the_first_4096_bytes() {
        assert_eq!(detect(b"notes about <header> and <tables>"), "text/plain");
        assert_eq!(detect(b"x <TITLE>t</TITLE>"), "text/html");
        assert_eq!(detect(b"see <a href=\"x\">"), "text/html");
        assert_eq!(detect(b"ends with <script"), "text/html");
        assert_eq!(detect(b"<< <<head_x <head"), "text/html");
        let mut late = vec![b'a'; 4096];
        late.extend_from_slice(b"<html>");
        assert_eq!(detect(&late), "text/plain");
        late.drain(..10);
        assert_eq!(detect(&late), "text/html");
    }
}
