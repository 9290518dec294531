//! Product, version and operating system from the strings software announces
//! about itself, one function per source: HTTP `User-Agent`, `Server` and
//! `X-Powered-By` ([`user_agent`], [`server`]), SSH version banners
//! ([`ssh_banner`]), FTP greetings, `CLNT` and `SYST` ([`ftp_greeting`],
//! [`ftp_clnt`], [`ftp_syst`]), SMTP greetings and EHLO replies
//! ([`smtp_greeting`], [`smtp_ehlo`]), POP3 and IMAP greetings
//! ([`pop3_greeting`], [`imap_greeting`]); [`parse`] picks the function of a
//! source.
//!
//! Browsers are recognised the way Zeek's software framework does (the
//! browser's own token, not the `Mozilla/5.0` every browser sends first);
//! other HTTP values are read as RFC 9110 product tokens, `name/version`, of
//! which the first is the software. SSH banners and FTP `CLNT` name their
//! software in a fixed place and are split into name and version the way
//! Zeek's `Software::parse` does. Greetings are free text: a product is only
//! named when the greeting holds a known server's marker (a table per
//! protocol), and the raw greeting stays in the record either way.

/// What an announced string says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// Product name ("Chrome", "nginx").
    pub product: String,
    /// Its version ("25.0.1364.152"), empty when none is given.
    pub version: String,
    /// Operating system named in a comment, empty when none is.
    pub os: String,
    /// A browser was recognised (Zeek's `HTTP::BROWSER`).
    pub browser: bool,
}

/// Browser tokens, most specific first: Edge and Opera also send `Chrome/`,
/// Chrome also sends `Safari/`.
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("Opera/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
];

/// Reads a `User-Agent` value.
pub fn user_agent(ua: &str) -> Parsed {
    let os = ua_os(ua);
    for (token, name) in BROWSERS {
        if let Some(v) = version_after(ua, token) {
            return browser(name, v, os);
        }
    }
    // Internet Explorer: "MSIE 8.0;", or from 11 on "Trident/7.0; rv:11.0".
    if let Some(v) = version_after(ua, "MSIE ") {
        return browser("MSIE", v, os);
    }
    if ua.contains("Trident/") {
        if let Some(v) = version_after(ua, "rv:") {
            return browser("MSIE", v, os);
        }
    }
    // Safari names its version in "Version/x", its "Safari/x" is a build.
    if ua.contains("Safari/") {
        if let Some(v) = version_after(ua, "Version/") {
            return browser("Safari", v, os);
        }
    }
    let mut p = first_product(ua);
    p.os = os;
    p
}

/// Reads a `Server` or `X-Powered-By` value.
pub fn server(value: &str) -> Parsed {
    let mut p = first_product(value);
    p.os = comments(value)
        .flat_map(|c| c.split(';'))
        .map(str::trim)
        .find(|c| SERVER_OS.iter().any(|os| c.eq_ignore_ascii_case(os)))
        .unwrap_or_default()
        .to_string();
    p
}

/// Operating systems servers name in a comment ("Apache/2.4.41 (Ubuntu)").
const SERVER_OS: &[&str] = &[
    "Ubuntu", "Debian", "CentOS", "Red Hat", "Fedora", "Amazon", "Win32", "Win64", "Unix",
    "FreeBSD", "OpenBSD", "NetBSD", "Raspbian", "SUSE", "Linux", "Darwin",
];

fn browser(name: &str, version: &str, os: String) -> Parsed {
    Parsed {
        product: name.to_string(),
        version: version.to_string(),
        os,
        browser: true,
    }
}

/// The version that follows `token`: digits, dots and letters up to a
/// separator.
fn version_after<'a>(s: &'a str, token: &str) -> Option<&'a str> {
    let at = s.find(token)? + token.len();
    let rest = s.get(at..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let v = rest.get(..end)?;
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

/// The first `name/version` product token (or bare name) of a value.
fn first_product(s: &str) -> Parsed {
    let token = s
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let (product, version) = token.split_once('/').unwrap_or((token, ""));
    Parsed {
        product: product.to_string(),
        version: version.to_string(),
        ..Parsed::default()
    }
}

/// The parenthesised comments of a value, in order (unbalanced ones end at
/// the end of the value).
fn comments(s: &str) -> impl Iterator<Item = &str> {
    s.split('(')
        .skip(1)
        .map(|c| c.split_once(')').map_or(c, |(inner, _)| inner))
}

/// The operating system a User-Agent names in its comments.
fn ua_os(ua: &str) -> String {
    for part in comments(ua).flat_map(|c| c.split(';')).map(str::trim) {
        if part.starts_with("Windows NT ")
            || part.starts_with("Android")
            || part == "Windows Phone"
            || part.starts_with("Windows Phone ")
        {
            return part.to_string();
        }
        for (marker, name) in [
            ("iPhone OS ", "iOS"),
            ("CPU OS ", "iPadOS"),
            ("Mac OS X ", "macOS"),
        ] {
            if let Some(at) = part.find(marker) {
                let v = part
                    .get(at + marker.len()..)
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .replace('_', ".");
                return format!("{name} {v}");
            }
        }
        if part.starts_with("CrOS") {
            return "ChromeOS".to_string();
        }
    }
    // A Linux desktop says only "X11; Linux x86_64" (after any more
    // specific name above, Android also says Linux).
    if comments(ua).any(|c| c.contains("Linux")) {
        return "Linux".to_string();
    }
    String::new()
}

/// Where software announced itself: the `SourceName` of its Software record.
pub mod source {
    /// HTTP request header.
    pub const HTTP_USER_AGENT: &str = "HTTP User-Agent";
    /// HTTP response header.
    pub const HTTP_SERVER: &str = "HTTP Server";
    /// HTTP response header naming the application server.
    pub const HTTP_X_POWERED_BY: &str = "HTTP X-Powered-By";
    /// The client's SSH version banner (RFC 4253 4.2).
    pub const SSH_CLIENT: &str = "SSH client banner";
    /// The server's SSH version banner.
    pub const SSH_SERVER: &str = "SSH server banner";
    /// The text of an FTP server's 220 greeting.
    pub const FTP_GREETING: &str = "FTP greeting";
    /// The argument of the client's `CLNT` command.
    pub const FTP_CLNT: &str = "FTP CLNT";
    /// The text of the 215 reply to `SYST`.
    pub const FTP_SYST: &str = "FTP SYST reply";
    /// The text of an SMTP server's 220 greeting.
    pub const SMTP_GREETING: &str = "SMTP greeting";
    /// The 250 reply to EHLO, when it names the server: its extension lines
    /// (its first line names the client), the first line of a reply
    /// without extensions.
    pub const SMTP_EHLO: &str = "SMTP EHLO reply";
    /// The text of a POP3 server's `+OK` greeting.
    pub const POP3_GREETING: &str = "POP3 greeting";
    /// The text of an IMAP server's `* OK` (or `PREAUTH`) greeting.
    pub const IMAP_GREETING: &str = "IMAP greeting";

    /// Every source.
    pub const ALL: &[&str] = &[
        HTTP_USER_AGENT,
        HTTP_SERVER,
        HTTP_X_POWERED_BY,
        SSH_CLIENT,
        SSH_SERVER,
        FTP_GREETING,
        FTP_CLNT,
        FTP_SYST,
        SMTP_GREETING,
        SMTP_EHLO,
        POP3_GREETING,
        IMAP_GREETING,
    ];
}

/// Reads `raw` as its source announces software.
pub fn parse(source_name: &str, raw: &str) -> Parsed {
    match source_name {
        source::HTTP_USER_AGENT => user_agent(raw),
        source::SSH_CLIENT | source::SSH_SERVER => ssh_banner(raw),
        source::FTP_GREETING => ftp_greeting(raw),
        source::FTP_CLNT => ftp_clnt(raw),
        source::FTP_SYST => ftp_syst(raw),
        source::SMTP_GREETING => smtp_greeting(raw),
        source::SMTP_EHLO => smtp_ehlo(raw),
        source::POP3_GREETING => pop3_greeting(raw),
        source::IMAP_GREETING => imap_greeting(raw),
        _ => server(raw),
    }
}

/// Reads an SSH version banner, `SSH-protoversion-softwareversion
/// SP comments` (RFC 4253 4.2): the software version is split into name and
/// version ("OpenSSH_8.9p1": OpenSSH, 8.9p1); comments that start with an
/// operating system ("Ubuntu-3ubuntu0.1") are its OS.
pub fn ssh_banner(line: &str) -> Parsed {
    let rest = line.strip_prefix("SSH-").unwrap_or(line);
    let rest = rest.split_once('-').map_or("", |(_, r)| r);
    let (software, comments) = rest.split_once(' ').unwrap_or((rest, ""));
    let (product, version) = name_version(software);
    let comments = comments.trim();
    let os = if starts_with_os(comments) {
        comments.to_string()
    } else {
        // "OpenSSH_for_Windows_8.1".
        os_word(software).unwrap_or_default().to_string()
    };
    Parsed {
        product,
        version,
        os,
        browser: false,
    }
}

/// FTP servers by a marker of their greeting.
const FTP_SERVERS: &[Known] = &[
    known("vsFTPd", "vsFTPd", ""),
    known("ProFTPD", "ProFTPD", ""),
    known("Pure-FTPd", "Pure-FTPd", ""),
    known("FileZilla Server", "FileZilla Server", ""),
    known("Microsoft FTP Service", "Microsoft FTP Service", "Windows"),
    known("Serv-U FTP Server", "Serv-U", ""),
    known("Serv-U", "Serv-U", ""),
    known("Version wu-", "wu-ftpd", ""),
    known("wu-ftpd", "wu-ftpd", ""),
    known("Gene6 FTP Server", "Gene6 FTP Server", ""),
    known("WS_FTP Server", "WS_FTP Server", ""),
    known("Xlight FTP Server", "Xlight FTP Server", ""),
    known("Titan FTP Server", "Titan FTP Server", ""),
    known("Wing FTP Server", "Wing FTP Server", ""),
    known("Cerberus FTP Server", "Cerberus FTP Server", ""),
    known("Core FTP Server", "Core FTP Server", ""),
    known("CrushFTP", "CrushFTP", ""),
    known("glFTPd", "glFTPd", ""),
    known("bftpd", "bftpd", ""),
    known("NcFTPd", "NcFTPd", ""),
    known("SlimFTPd", "SlimFTPd", ""),
    known("zFTPServer", "zFTPServer", ""),
    known("(MikroTik", "MikroTik RouterOS", ""),
    known("Synology FTP", "Synology FTP", ""),
];

/// Reads an FTP server's 220 greeting (the text after the code).
pub fn ftp_greeting(text: &str) -> Parsed {
    known_product(text, FTP_SERVERS)
}

/// Reads the argument of `CLNT` (the client names itself: "NcFTP 3.2.6
/// macosx10.15"), as Zeek's FTP::CLIENT does.
pub fn ftp_clnt(arg: &str) -> Parsed {
    let (product, version) = name_version(arg);
    Parsed {
        product,
        version,
        ..Parsed::default()
    }
}

/// Reads the 215 reply to `SYST` ("UNIX Type: L8", "Windows_NT"): the
/// system type is the OS; FileZilla Server names itself ("UNIX emulated by
/// FileZilla").
pub fn ftp_syst(text: &str) -> Parsed {
    let first = text.lines().next().unwrap_or_default().trim();
    if find_ci(first, "emulated by FileZilla").is_some() {
        return Parsed {
            product: "FileZilla Server".to_string(),
            os: "Windows".to_string(),
            ..Parsed::default()
        };
    }
    Parsed {
        os: first
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        ..Parsed::default()
    }
}

/// Mail servers that answer SMTP, POP3 and IMAP with the same name.
const MAIL_SUITES: &[Known] = &[
    known(
        "Microsoft Exchange Server",
        "Microsoft Exchange Server",
        "Windows",
    ),
    known("Microsoft Exchange", "Microsoft Exchange", "Windows"),
    known("Kerio Connect", "Kerio Connect", ""),
    known("hMailServer", "hMailServer", "Windows"),
    known("MailEnable", "MailEnable", "Windows"),
    known("MDaemon", "MDaemon", "Windows"),
    known("IceWarp", "IceWarp", ""),
    known("CommuniGate Pro", "CommuniGate Pro", ""),
    known("Zimbra", "Zimbra", ""),
    known("Lotus Domino Release", "Lotus Domino", ""),
    known("Lotus Domino", "Lotus Domino", ""),
    known("IBM Domino", "IBM Domino", ""),
    known("Stalwart", "Stalwart", ""),
];

/// SMTP servers by a marker of their greeting.
const SMTP_SERVERS: &[Known] = &[
    known("Postfix", "Postfix", ""),
    known("Exim", "Exim", ""),
    known("Sendmail", "Sendmail", ""),
    known(
        "Microsoft ESMTP MAIL Service",
        "Microsoft ESMTP MAIL Service",
        "Windows",
    ),
    known("OpenSMTPD", "OpenSMTPD", ""),
    known("Haraka", "Haraka", ""),
    known("qmail", "qmail", ""),
    known("gsmtp", "Google gsmtp", ""),
    known("ArGoSoft Mail Server", "ArGoSoft Mail Server", "Windows"),
    known("Mercury/32", "Mercury/32", "Windows"),
    known("XMail", "XMail", ""),
];

/// Reads an SMTP server's 220 greeting (the text after the code, lines
/// joined by "\n"): "mx.example.org ESMTP Postfix (Ubuntu)", "... ESMTP
/// Exim 4.94.2 ...", "... ESMTP Sendmail 8.15.2/8.15.2; ...", "... Microsoft
/// ESMTP MAIL Service, Version: 8.5.9600.16384 ready ...".
pub fn smtp_greeting(text: &str) -> Parsed {
    mail_product(text, SMTP_SERVERS)
}

/// Reads the 250 reply to EHLO (lines joined by "\n"). It names no version,
/// and a server only by private extensions: Microsoft Exchange's XEXCH50,
/// X-EXPS, XRDST, X-ANONYMOUSTLS.
pub fn smtp_ehlo(text: &str) -> Parsed {
    let exchange = text.lines().any(|l| {
        let ext = l.split_whitespace().next().unwrap_or_default();
        ["XEXCH50", "X-EXPS", "XRDST", "X-ANONYMOUSTLS"]
            .iter()
            .any(|x| ext.eq_ignore_ascii_case(x))
    });
    if !exchange {
        return Parsed::default();
    }
    Parsed {
        product: "Microsoft Exchange".to_string(),
        os: "Windows".to_string(),
        ..Parsed::default()
    }
}

/// POP3 servers by a marker of their greeting.
const POP3_SERVERS: &[Known] = &[
    known("Dovecot", "Dovecot", ""),
    known("Cyrus POP3", "Cyrus", ""),
    known("Qpopper", "Qpopper", ""),
    known("Courier", "Courier", ""),
    // Courier's pop3d greets with just this (nmap's service probes).
    known("Hello there.", "Courier", ""),
    known("Gpop", "Google Gpop", ""),
    known("popa3d", "popa3d", ""),
    known("UW POP3", "UW POP3", ""),
];

/// Reads a POP3 server's `+OK` greeting (the text after `+OK`): "Dovecot
/// ready.", "Dovecot (Ubuntu) ready.", "Microsoft Exchange Server 2003 POP3
/// server version 6.5.7638.1 (host) ready.".
pub fn pop3_greeting(text: &str) -> Parsed {
    mail_product(text, POP3_SERVERS)
}

/// IMAP servers by a marker of their greeting.
const IMAP_SERVERS: &[Known] = &[
    known("Dovecot", "Dovecot", ""),
    known("Courier-IMAP", "Courier-IMAP", ""),
    known("Cyrus IMAP", "Cyrus IMAP", ""),
    known("Gimap", "Google Gimap", ""),
    known("UW IMAP", "UW IMAP", ""),
    known("IMail", "IMail", "Windows"),
];

/// Reads an IMAP server's greeting (the text after `* OK`, a CAPABILITY
/// response code included): "[CAPABILITY IMAP4rev1 ...] Dovecot ready.",
/// "Microsoft Exchange IMAP4rev1 server version 5.5.2650.23 (host) ready",
/// "host Cyrus IMAP v2.4.17-Debian-2.4.17 server ready".
pub fn imap_greeting(text: &str) -> Parsed {
    // The capability list names no server; skipping it keeps its atoms
    // from being taken for markers.
    let text = match text.strip_prefix('[') {
        Some(r) => r.split_once(']').map_or("", |(_, after)| after),
        None => text,
    };
    mail_product(text, IMAP_SERVERS)
}

/// A mail server from the protocol's own table, else from the suites that
/// answer every mail protocol with one name.
fn mail_product(text: &str, table: &[Known]) -> Parsed {
    let p = known_product(text, table);
    if p.product.is_empty() {
        known_product(text, MAIL_SUITES)
    } else {
        p
    }
}

/// A server product known by a marker of its greeting.
#[derive(Debug, Clone, Copy)]
struct Known {
    /// Text that names it (ASCII case-insensitive, at a word start).
    marker: &'static str,
    /// The product's name.
    product: &'static str,
    /// The system it only runs on, if any.
    os: &'static str,
}

const fn known(marker: &'static str, product: &'static str, os: &'static str) -> Known {
    Known {
        marker,
        product,
        os,
    }
}

/// Words that may stand between a product's marker and its version
/// ("Microsoft Exchange IMAP4rev1 server version 5.5").
const FILLER: &[&str] = &[
    "version",
    "ver",
    "release",
    "server",
    "service",
    "ftp",
    "ftpd",
    "smtp",
    "esmtp",
    "pop3",
    "imap",
    "imap4",
    "imap4rev1",
    "mail",
    "daemon",
];

/// The first product of `table` whose marker is in `text`, with the version
/// that follows the marker (after filler words) and the OS named in a
/// comment or in that version's token.
fn known_product(text: &str, table: &[Known]) -> Parsed {
    for k in table {
        let Some(at) = find_ci(text, k.marker) else {
            continue;
        };
        let after = text.get(at + k.marker.len()..).unwrap_or_default();
        let mut product = k.product.to_string();
        let mut version = String::new();
        let mut os = os_in_comments(text).unwrap_or(k.os).to_string();
        for word in after.split_whitespace().take(6) {
            let w = word.trim_start_matches('(');
            let w = match w.strip_prefix(['v', 'V']) {
                Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => r,
                _ => w,
            };
            // "Microsoft Exchange Server 2003 POP3 server version 6.5": a
            // year is part of the name.
            let year = w.len() == 4
                && w.bytes().all(|b| b.is_ascii_digit())
                && (w.starts_with("19") || w.starts_with("20"));
            if year && product == k.product {
                product = format!("{product} {w}");
                continue;
            }
            if w.starts_with(|c: char| c.is_ascii_digit()) {
                version = version_token(w);
                if let Some(o) = os_word(w) {
                    os = o.to_string();
                }
                break;
            }
            let bare = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            if !bare.is_empty() && !FILLER.iter().any(|f| bare.eq_ignore_ascii_case(f)) {
                break;
            }
        }
        return Parsed {
            product,
            version,
            os,
            browser: false,
        };
    }
    Parsed::default()
}

/// Splits a software version the way Zeek's `Software::parse` does: the
/// name ends where a separator (`/`, `_`, `-`, space, then an optional `v`)
/// comes before a digit, and the version is the run of letters, digits and
/// dots from there ("OpenSSH_8.9p1", "libssh-0.7.2", "PuTTY_Release_0.78",
/// "NcFTP 3.2.6 macosx10.15"). Without a version, the whole string is the
/// name.
fn name_version(s: &str) -> (String, String) {
    let s = s.trim();
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if i == 0 || !matches!(c, b'/' | b'_' | b'-' | b' ') {
            continue;
        }
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'v' | b'V')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            let name = s.get(..i).unwrap_or_default();
            let version = version_token(s.get(j..).unwrap_or_default());
            return (strip_release(name).to_string(), version);
        }
    }
    (s.to_string(), String::new())
}

/// "PuTTY_Release" is PuTTY, "FileZilla Server version" FileZilla Server.
fn strip_release(name: &str) -> &str {
    for word in ["release", "version"] {
        let cut = name.len().saturating_sub(word.len());
        if let (Some(head), Some(tail)) = (name.get(..cut), name.get(cut..)) {
            if tail.eq_ignore_ascii_case(word) && head.ends_with(['_', '-', ' ']) {
                let head = head.trim_end_matches(['_', '-', ' ']);
                if !head.is_empty() {
                    return head;
                }
            }
        }
    }
    name
}

/// The version at the start of `s`: letters, digits and dots, without a
/// final dot ("8.15.2/8.15.2;" is 8.15.2, "2.6.2(1)" is 2.6.2).
fn version_token(s: &str) -> String {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .unwrap_or(s.len());
    s.get(..end)
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

/// Byte offset of `needle` in `hay` (ASCII case-insensitive) as a word of
/// its own, not part of a host name: not right after a letter, digit, dot or
/// hyphen, and not followed by a letter or digit or by a dot and one
/// ("zimbra.example.org" does not name Zimbra).
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    let word_char = |b: &u8| b.is_ascii_alphanumeric();
    (0..=h.len() - n.len()).find(|&i| {
        let end = i + n.len();
        let before_ok = i == 0
            || h.get(i - 1)
                .is_some_and(|b| !(word_char(b) || *b == b'.' || *b == b'-'));
        // A marker that ends in punctuation ("Version wu-") is followed
        // by the version.
        let after_ok = !n.last().is_some_and(word_char)
            || match h.get(end) {
                None => true,
                Some(b'.') => !h.get(end + 1).is_some_and(word_char),
                Some(b) => !word_char(b),
            };
        before_ok && after_ok && h.get(i..end).is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

/// Operating systems a banner names (in a comment, in a version token).
const BANNER_OS: &[&str] = &[
    "Ubuntu", "Debian", "Raspbian", "CentOS", "Red Hat", "RHEL", "Fedora", "Amazon", "SUSE",
    "FreeBSD", "OpenBSD", "NetBSD", "Windows", "Win32", "Win64", "Darwin",
];

/// The first operating system named as a word in `s`.
fn os_word(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    (0..b.len()).find_map(|i| {
        if i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        BANNER_OS.iter().copied().find(|os| {
            let end = i + os.len();
            b.get(i..end)
                .is_some_and(|w| w.eq_ignore_ascii_case(os.as_bytes()))
                && !b.get(end).is_some_and(u8::is_ascii_alphabetic)
        })
    })
}

/// Whether `s` starts with an operating system's name.
fn starts_with_os(s: &str) -> bool {
    BANNER_OS.iter().any(|os| {
        s.get(..os.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(os))
            && !s
                .as_bytes()
                .get(os.len())
                .is_some_and(u8::is_ascii_alphabetic)
    })
}

/// The first operating system named in a parenthesised comment.
fn os_in_comments(s: &str) -> Option<&'static str> {
    comments(s).find_map(os_word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> (String, String, String, bool) {
        let p = user_agent(s);
        (p.product, p.version, p.os, p.browser)
    }

    fn t(p: &str, v: &str, os: &str, b: bool) -> (String, String, String, bool) {
        (p.into(), v.into(), os.into(), b)
    }

    #[test]
    fn browsers() {
        // From ../shared/bench/ndpi_mix.pcap.
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.22 (KHTML, like Gecko) Chrome/25.0.1364.152 Safari/537.22"),
            t("Chrome", "25.0.1364.152", "Windows NT 6.1", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
            t("Edge", "120.0.2210.91", "Windows NT 10.0", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"),
            t("Firefox", "115.0", "Linux", true)
        );
        assert_eq!(
            ua("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)"),
            t("MSIE", "8.0", "Windows NT 5.1", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko"),
            t("MSIE", "11.0", "Windows NT 6.3", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Mobile/15E148 Safari/604.1"),
            t("Safari", "14.0", "iOS 14.2", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            t("Safari", "17.1", "macOS 10.15.7", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"),
            t("Chrome", "120.0.0.0", "Android 10", true)
        );
    }

    #[test]
    fn other_clients_are_their_first_product() {
        assert_eq!(ua("curl/7.68.0"), t("curl", "7.68.0", "", false));
        assert_eq!(ua("Wget/1.21.2"), t("Wget", "1.21.2", "", false));
        assert_eq!(
            ua("Microsoft-CryptoAPI/10.0"),
            t("Microsoft-CryptoAPI", "10.0", "", false)
        );
        assert_eq!(
            ua("Dalvik/2.1.0 (Linux; U; Android 9; SM-G960F Build/PPR1.180610.011)"),
            t("Dalvik", "2.1.0", "Android 9", false)
        );
        assert_eq!(
            ua("Windows-Update-Agent"),
            t("Windows-Update-Agent", "", "", false)
        );
        assert_eq!(ua(""), t("", "", "", false));
        // Unbalanced and odd input stays total.
        assert_eq!(ua("(((;;;"), t("", "", "", false));
        assert_eq!(ua("Chrome/"), t("Chrome", "", "", false));
    }

    #[test]
    fn servers() {
        let s = |v: &str| {
            let p = server(v);
            (p.product, p.version, p.os)
        };
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(s("Apache/2.4.41 (Ubuntu)"), t("Apache", "2.4.41", "Ubuntu"));
        assert_eq!(s("openresty/1.9.7.1"), t("openresty", "1.9.7.1", ""));
        assert_eq!(s("Microsoft-IIS/10.0"), t("Microsoft-IIS", "10.0", ""));
        assert_eq!(s("nginx"), t("nginx", "", ""));
        assert_eq!(s("PHP/7.4.3"), t("PHP", "7.4.3", ""));
        assert_eq!(
            s("Apache/2.2.15 (CentOS) DAV/2 mod_ssl/2.2.15"),
            t("Apache", "2.2.15", "CentOS")
        );
        assert_eq!(
            s("Apache/2.4.6 (Win64; OpenSSL)"),
            t("Apache", "2.4.6", "Win64")
        );
    }

    /// (product, version, os) of a parse.
    fn pvo(p: Parsed) -> (String, String, String) {
        (p.product, p.version, p.os)
    }

    fn t3(p: &str, v: &str, os: &str) -> (String, String, String) {
        (p.to_string(), v.to_string(), os.to_string())
    }

    #[test]
    fn ssh_banners() {
        let s = |b: &str| pvo(ssh_banner(b));
        // The captures in testdata, and common servers and clients.
        assert_eq!(
            s("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3"),
            t3("OpenSSH", "8.9p1", "Ubuntu-3")
        );
        assert_eq!(
            s("SSH-2.0-OpenSSH_5.9p1 Debian-5ubuntu1"),
            t3("OpenSSH", "5.9p1", "Debian-5ubuntu1")
        );
        assert_eq!(s("SSH-2.0-OpenSSH_7.4"), t3("OpenSSH", "7.4", ""));
        assert_eq!(s("SSH-2.0-libssh-0.7.2"), t3("libssh", "0.7.2", ""));
        assert_eq!(s("SSH-2.0-libssh2_1.10.0"), t3("libssh2", "1.10.0", ""));
        assert_eq!(s("SSH-1.99-Cisco-1.25"), t3("Cisco", "1.25", ""));
        assert_eq!(s("SSH-2.0-dropbear_2022.83"), t3("dropbear", "2022.83", ""));
        assert_eq!(s("SSH-2.0-PuTTY_Release_0.78"), t3("PuTTY", "0.78", ""));
        assert_eq!(
            s("SSH-2.0-OpenSSH_for_Windows_8.1"),
            t3("OpenSSH_for_Windows", "8.1", "Windows")
        );
        assert_eq!(s("SSH-2.0-Go"), t3("Go", "", ""));
        assert_eq!(s("SSH-2.0-paramiko_3.4.0"), t3("paramiko", "3.4.0", ""));
        // A comment that names no OS is not one.
        assert_eq!(
            s("SSH-2.0-OpenSSH_7.4 PKIX[12.1]"),
            t3("OpenSSH", "7.4", "")
        );
        // Odd input stays total.
        assert_eq!(s("SSH-"), t3("", "", ""));
        assert_eq!(s("SSH-2.0-"), t3("", "", ""));
        assert_eq!(s("SSH-2.0-_1 ü"), t3("_1", "", ""));
    }

    #[test]
    fn ftp_greetings() {
        let g = |b: &str| pvo(ftp_greeting(b));
        assert_eq!(g("(vsFTPd 2.3.5)"), t3("vsFTPd", "2.3.5", ""));
        assert_eq!(
            g("ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.1]"),
            t3("ProFTPD", "1.3.5e", "Debian")
        );
        assert_eq!(
            g("ProFTPD Server (ProFTPD Default Installation) [10.0.0.1]"),
            t3("ProFTPD", "", "")
        );
        assert_eq!(
            g("---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\nYou are user number 1 of 50 allowed."),
            t3("Pure-FTPd", "", "")
        );
        assert_eq!(
            g("FileZilla Server version 0.9.41 beta"),
            t3("FileZilla Server", "0.9.41", "")
        );
        assert_eq!(
            g("FileZilla Server 1.7.0"),
            t3("FileZilla Server", "1.7.0", "")
        );
        assert_eq!(
            g("Microsoft FTP Service"),
            t3("Microsoft FTP Service", "", "Windows")
        );
        assert_eq!(
            g("Serv-U FTP Server v15.1 ready..."),
            t3("Serv-U", "15.1", "")
        );
        assert_eq!(
            g("ftp.example.org FTP server (Version wu-2.6.2(1) Mon Jan 1 2001) ready."),
            t3("wu-ftpd", "2.6.2", "")
        );
        assert_eq!(
            g("MikroTik FTP server (MikroTik 6.49.6) ready"),
            t3("MikroTik RouterOS", "6.49.6", "")
        );
        // Greetings that name no product: the raw text is all there is.
        assert_eq!(g("FTP Sandbox Ready."), t3("", "", ""));
        assert_eq!(g("Welcome to vsftpd.example.org"), t3("", "", ""));
        assert_eq!(g(""), t3("", "", ""));
    }

    #[test]
    fn ftp_clnt_and_syst() {
        assert_eq!(
            pvo(ftp_clnt("NcFTP 3.2.6 macosx10.15")),
            t3("NcFTP", "3.2.6", "")
        );
        assert_eq!(pvo(ftp_clnt("FileZilla")), t3("FileZilla", "", ""));
        assert_eq!(pvo(ftp_syst("UNIX Type: L8")), t3("", "", "UNIX"));
        assert_eq!(pvo(ftp_syst("Windows_NT")), t3("", "", "Windows_NT"));
        assert_eq!(
            pvo(ftp_syst("UNIX emulated by FileZilla")),
            t3("FileZilla Server", "", "Windows")
        );
    }

    #[test]
    fn smtp_greetings_and_ehlo() {
        let g = |b: &str| pvo(smtp_greeting(b));
        assert_eq!(g("firewall.unx.ca ESMTP Postfix"), t3("Postfix", "", ""));
        assert_eq!(
            g("mail.example.org ESMTP Postfix (Debian/GNU)"),
            t3("Postfix", "", "Debian")
        );
        assert_eq!(
            g("mx.example.org ESMTP Exim 4.94.2 Mon, 06 Dec 2021 10:00:00 +0000"),
            t3("Exim", "4.94.2", "")
        );
        assert_eq!(
            g("mx.example.org ESMTP Sendmail 8.14.4/8.14.4/Debian-8; Mon, 6 Dec 2021"),
            t3("Sendmail", "8.14.4", "Debian")
        );
        assert_eq!(
            g("ex1.example.org Microsoft ESMTP MAIL Service, Version: 8.5.9600.16384 ready at  Mon, 6 Dec 2021"),
            t3("Microsoft ESMTP MAIL Service", "8.5.9600.16384", "Windows")
        );
        assert_eq!(
            g("mx.google.com ESMTP a1si1234567wrb.1 - gsmtp"),
            t3("Google gsmtp", "", "")
        );
        assert_eq!(g("smtp001.mail.xxx.xxxxx.com ESMTP"), t3("", "", ""));
        // A host name is no marker.
        assert_eq!(g("exim.example.org ESMTP"), t3("", "", ""));
        assert_eq!(g("zimbra.example.org ESMTP ready"), t3("", "", ""));
        let e = |b: &str| pvo(smtp_ehlo(b));
        assert_eq!(
            e("ex1.example.org Hello [10.0.0.1]\nSIZE 37748736\nPIPELINING\nX-ANONYMOUSTLS\nXEXCH50"),
            t3("Microsoft Exchange", "", "Windows")
        );
        // As Software takes it: the extension lines.
        assert_eq!(
            e("SIZE 37748736\nPIPELINING\nX-EXPS GSSAPI NTLM"),
            t3("Microsoft Exchange", "", "Windows")
        );
        assert_eq!(
            e("firewall.unx.ca\nPIPELINING\nSIZE 10240000"),
            t3("", "", "")
        );
    }

    #[test]
    fn pop3_and_imap_greetings() {
        let p = |b: &str| pvo(pop3_greeting(b));
        assert_eq!(p("Dovecot ready."), t3("Dovecot", "", ""));
        assert_eq!(p("Dovecot (Ubuntu) ready."), t3("Dovecot", "", "Ubuntu"));
        assert_eq!(
            p("Microsoft Exchange Server 2003 POP3 server version 6.5.7638.1 (ex1.example.org) ready."),
            t3("Microsoft Exchange Server 2003", "6.5.7638.1", "Windows")
        );
        assert_eq!(
            p("Qpopper (version 4.0.5) at mail.example.org starting."),
            t3("Qpopper", "4.0.5", "")
        );
        assert_eq!(p("Hello there."), t3("Courier", "", ""));
        assert_eq!(
            p("POP server ready H mieueus020 1Mw7UO-1j88qA02mS-00sOH0"),
            t3("", "", "")
        );
        assert_eq!(p("Welcome."), t3("", "", ""));
        let i = |b: &str| pvo(imap_greeting(b));
        assert_eq!(
            i("[CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Ubuntu) ready."),
            t3("Dovecot", "", "Ubuntu")
        );
        assert_eq!(
            i("Microsoft Exchange IMAP4rev1 server version 5.5.2650.23 (umr-mail02) ready"),
            t3("Microsoft Exchange", "5.5.2650.23", "Windows")
        );
        assert_eq!(
            i("[CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2011 Double Precision, Inc.  See COPYING for distribution information."),
            t3("Courier-IMAP", "", "")
        );
        assert_eq!(
            i("mail.example.org Cyrus IMAP v2.4.17-Debian-2.4.17+caldav~beta9-3 server ready"),
            t3("Cyrus IMAP", "2.4.17", "Debian")
        );
        assert_eq!(
            i("Gimap ready for requests from 10.0.0.1 a1mb1234567ywh"),
            t3("Google Gimap", "", "")
        );
        // An unbalanced response code stays total.
        assert_eq!(i("[CAPABILITY IMAP4rev1"), t3("", "", ""));
    }

    #[test]
    fn parse_picks_the_function_of_the_source() {
        assert_eq!(
            pvo(parse(source::SSH_SERVER, "SSH-2.0-OpenSSH_7.4")),
            t3("OpenSSH", "7.4", "")
        );
        assert_eq!(
            pvo(parse(source::HTTP_SERVER, "Apache/2.4.41 (Ubuntu)")),
            t3("Apache", "2.4.41", "Ubuntu")
        );
        assert!(
            parse(
                source::HTTP_USER_AGENT,
                "Mozilla/5.0 (Windows NT 6.1) Chrome/25.0 Safari/537"
            )
            .browser
        );
    }
}
