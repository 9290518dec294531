//! The MIME parser against Python's `email` package (the standard
//! library's parser, an independent implementation): the leaf parts of
//! hand-made messages, their types, file names and the SHA-256 of their
//! decoded content. Python's quoted-printable decoder (binascii) keeps
//! the white space at the end of an encoded line, which RFC 2045 section
//! 6.7 says decoders delete (Netcap does): the messages here have none;
//! line ends are compared as CRLF (the canonical form), which is what
//! Python's decoder keeps of CRLF input.

use std::io::Write as _;
use std::process::{Command, Stdio};

use netcap_schema::File;
use sha2::{Digest, Sha256};

use super::*;
use crate::records::StreamRecord;
use crate::testkit::meta;

const PY: &str = r#"
import email, email.policy, hashlib, sys
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
for part in msg.walk():
    if part.is_multipart():
        continue
    data = part.get_payload(decode=True) or b""
    if part.get("Content-Transfer-Encoding", "").strip().lower() == "quoted-printable":
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    name = part.get_filename() or ""
    print("%s\t%s\t%d\t%s" % (part.get_content_type(), name, len(data), hashlib.sha256(data).hexdigest()))
"#;

/// Python's view of the leaf parts: type, file name, length, SHA-256.
fn python_parts(msg: &[u8]) -> Vec<String> {
    let mut child = Command::new("python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Netcap's Mail and Files of a message fed `chunk` bytes at a time as raw
/// data (or line by line when `chunk` is 0), with extraction on.
/// A File record and its extracted content.
type Extracted = (File, Option<Vec<u8>>);

fn ours(msg: &[u8], chunk: usize) -> (Mail, Vec<Extracted>) {
    let mut m = meta("CMIME", 25);
    m.files_max = 1 << 20;
    let mut out = Vec::new();
    let mut cx = Cx::new(
        &m,
        Origin {
            ts_ns: 5,
            number: 3,
        },
        &mut out,
    );
    let mut b = MailBuilder::new(
        "SMTP",
        "CMIME.M1".into(),
        Origin {
            ts_ns: 5,
            number: 3,
        },
        true,
        0,
        &cx,
    );
    if chunk == 0 {
        let text = msg.strip_suffix(b"\r\n").unwrap_or(msg);
        for l in text.split(|&c| c == b'\n') {
            b.line(l.strip_suffix(b"\r").unwrap_or(l), false, &mut cx);
        }
    } else {
        for c in msg.chunks(chunk) {
            b.raw(c, &mut cx);
        }
    }
    b.finish(true, &mut cx);
    let mut mail = None;
    let mut files = Vec::new();
    for (_, r) in out {
        match r {
            StreamRecord::Mail(m) => mail = Some(*m),
            StreamRecord::File(f) => files.push((f.rec, f.data)),
            other => panic!("unexpected {other:?}"),
        }
    }
    (mail.unwrap(), files)
}

fn sha256(b: &[u8]) -> String {
    netcap_decode::text::hex(&Sha256::digest(b))
}

const MIXED: &str = "Return-Path: <alice@example.org>\r\n\
Received: from a.example.org by b.example.org; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Received: from c.example.org by a.example.org; Mon, 1 Jan 2024 09:59:00 +0000\r\n\
From: Alice <alice@example.org>\r\n\
To: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\n\
Cc: dave@example.net\r\n\
Subject: =?utf-8?q?Caf=C3=A9?= report\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Message-ID: <m1@example.org>\r\n\
X-Mailer: Test Mailer 1.0\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
This is the preamble.\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9 au lait, a long line that is =\r\n\
broken softly.\r\n\
Second line =3D ok\r\n\
--inner\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body>Hi</body></html>\r\n\
\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/octet-stream; name=\"x.bin\"\r\n\
Content-Disposition: attachment;\r\n filename*0=\"report-\";\r\n filename*1=\"2024.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\n\
Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtRTyuAIVAIWIB9gK\r\n\
ZW5kc3RyZWFtCg==\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
Content-Disposition: attachment; filename=notes.txt\r\n\
\r\n\
plain\r\n\
text\r\n\
--outer--\r\n\
epilogue\r\n";

#[test]
fn parts_agree_with_python_email() {
    let py = python_parts(MIXED.as_bytes());
    assert_eq!(py.len(), 4, "{py:?}");
    for chunk in [0, 1, 7, 64, 4096] {
        let (mail, files) = ours(MIXED.as_bytes(), chunk);
        let mine: Vec<String> = mail
            .parts
            .iter()
            .map(|p| {
                format!(
                    "{}\t{}\t{}\t{}",
                    p.content_type, p.filename, p.length, p.sha256
                )
            })
            .collect();
        assert_eq!(mine, py, "chunk {chunk}");
        assert_eq!(files.len(), 4);
        for (f, data) in &files {
            let data = data.as_ref().unwrap();
            assert_eq!(f.sha256, sha256(data));
            assert_eq!(f.mail_id, "CMIME.M1");
            assert_eq!(f.source, "SMTP");
            assert!(!f.truncated, "{f:?}");
        }
        assert_eq!(files[2].0.name, "report-2024.pdf");
        assert_eq!(files[2].0.content_type_detected, "application/pdf");
        assert_eq!(files[2].0.encoding, "base64");
        assert_eq!(files[0].0.file_uid, "CMIME.F1");
        assert_eq!(mail.parts[2].file_uid, "CMIME.F3");
        assert_eq!(mail.from, "Alice <alice@example.org>");
        assert_eq!(mail.to, "Bob <bob@example.net>, Carol <carol@example.net>");
        assert_eq!(mail.cc, "dave@example.net");
        assert_eq!(mail.subject, "=?utf-8?q?Caf=C3=A9?= report");
        assert_eq!(mail.message_id, "<m1@example.org>");
        assert_eq!(mail.return_path, "<alice@example.org>");
        assert_eq!(mail.received.len(), 2);
        assert_eq!(mail.x_mailer, "Test Mailer 1.0");
        assert_eq!(mail.content_type, "multipart/mixed");
        assert!(mail.has_attachments);
        assert_eq!(mail.attachment_names, ["report-2024.pdf", "notes.txt"]);
        assert_eq!(mail.size, MIXED.len() as i64);
        assert!(!mail.truncated && !mail.headers_truncated);
        // Suricata's body MD5: the body as sent, after the header block.
        let body = MIXED.split_once("\r\n\r\n").unwrap().1;
        assert_eq!(
            mail.body_md5,
            netcap_decode::text::hex(&md5::Md5::digest(body.as_bytes()))
        );
    }
}

#[test]
fn single_part_messages_agree_with_python_email() {
    let cases: &[&str] = &[
        "From: a@b\r\nSubject: x\r\n\r\nline one\r\nline two\r\n",
        "From: a@b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: BASE64\r\n\r\nUEsDBAoAAAAAAA==\r\n",
        "From: a@b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=20b=\r\nc\r\nd=XYe\r\n",
        // No body at all, headers only.
        "From: a@b\r\nSubject: empty\r\n",
        // Base64 without padding, odd line lengths, garbage characters.
        "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8g\r\nV29y bGQ\r\n",
    ];
    for msg in cases {
        let py: Vec<String> = python_parts(msg.as_bytes())
            .into_iter()
            .filter(|l| !l.contains("\t0\t"))
            .collect();
        let (mail, _) = ours(msg.as_bytes(), 3);
        let mine: Vec<String> = mail
            .parts
            .iter()
            .filter(|p| p.length > 0)
            .map(|p| {
                format!(
                    "{}\t{}\t{}\t{}",
                    p.content_type, p.filename, p.length, p.sha256
                )
            })
            .collect();
        assert_eq!(mine, py, "{msg:?}");
    }
}

#[test]
fn limits_flag_what_they_cut() {
    // A header longer than the limit, more parts than the limit.
    let mut msg = format!("Subject: {}\r\n", "x".repeat(MAX_HEADER + 10));
    msg.push_str("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..MAX_PARTS + 5 {
        msg.push_str("--b\r\n\r\nx\r\n");
    }
    msg.push_str("--b--\r\n");
    let (mail, files) = ours(msg.as_bytes(), 100);
    assert!(mail.headers_truncated);
    assert!(mail.truncated);
    assert_eq!(mail.parts.len(), MAX_PARTS);
    assert_eq!(files.len(), MAX_PARTS);
    assert_eq!(mail.subject.len(), MAX_HEADER - "Subject:".len() - 1);
    // Nesting deeper than the limit never grows the boundary stack past it.
    let mut deep = String::new();
    for i in 0..MAX_DEPTH + 3 {
        deep.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    deep.push_str("\r\nleaf\r\n");
    let (mail, _) = ours(deep.as_bytes(), 5);
    assert!(mail.truncated);
}

#[test]
fn unfinished_messages_are_truncated() {
    let mut m = meta("CMIME", 25);
    m.files_max = 0;
    let mut out = Vec::new();
    let mut cx = Cx::new(&m, Origin::default(), &mut out);
    let mut b = MailBuilder::new("POP3", "CMIME.M1".into(), Origin::default(), false, 4, &cx);
    b.raw(
        b"Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n",
        &mut cx,
    );
    b.gap();
    b.raw(b"SGVsbG8=\r\n", &mut cx);
    b.finish(false, &mut cx);
    let file = out.iter().find_map(|(_, r)| match r {
        StreamRecord::File(f) => Some(f.clone()),
        _ => None,
    });
    let file = file.unwrap();
    assert!(file.rec.truncated);
    assert_eq!(file.rec.state, "TRUNCATED");
    assert_eq!(file.rec.file_uid, "CMIME.F5");
    assert_eq!(file.data, None);
    assert_eq!(file.rec.source, "POP3");
    assert!(!file.rec.to_server);
}

#[test]
fn base64_and_quoted_printable_match_rfc_examples() {
    // RFC 4648 section 10 test vectors.
    for (enc, dec) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
    ] {
        let mut out = Vec::new();
        let mut b = B64::default();
        b.feed(enc.as_bytes(), &mut out);
        b.flush(&mut out);
        assert_eq!(out, dec.as_bytes(), "{enc}");
    }
    // RFC 2045 section 6.7: soft breaks, escapes, trailing white space.
    let mut out = Vec::new();
    assert!(qp_line(b"Now's the time =", &mut out));
    assert!(!qp_line(b"for all folk to come=3D=3d \t", &mut out));
    assert_eq!(out, b"Now's the time for all folk to come==");
    let mut out = Vec::new();
    qp_line(b"=4", &mut out);
    qp_line(b"=G1", &mut out);
    assert_eq!(out, b"=4=G1");
}
