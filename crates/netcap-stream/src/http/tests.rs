#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use netcap_schema::{Http, HttpCookie};
use sha2::{Digest, Sha256};

use super::*;
use crate::parser::ConnMeta;

fn meta() -> ConnMeta {
    ConnMeta {
        uid: "CHTTP1".into(),
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), 80),
        files_max: 0,
    }
}

fn origin(n: u64) -> Origin {
    Origin {
        ts_ns: n as i64 * 1000,
        number: n,
    }
}

/// One event of a test stream.
#[derive(Debug, Clone)]
enum Ev {
    /// Bytes of a direction, all from one packet.
    Data(Dir, Vec<u8>),
    Gap(Dir, u64),
    Close(Dir, End),
}

use Ev::*;
const C: Dir = Dir::ToServer;
const S: Dir = Dir::ToClient;

fn c(b: &[u8]) -> Ev {
    Data(C, b.to_vec())
}
fn s(b: &[u8]) -> Ev {
    Data(S, b.to_vec())
}

type Pending = (Vec<u8>, Vec<(usize, Origin)>, usize);

/// The engine's side of the contract: keeps each direction's unconsumed
/// rest with the packet of each byte, calls again once `needed` is reached.
struct Engine {
    meta: ConnMeta,
    parser: HttpParser,
    out: Vec<(u64, StreamRecord)>,
    /// Per direction: unconsumed bytes, their runs of origins, bytes needed.
    bufs: [Pending; 2],
    error: Option<ParseError>,
    last: Origin,
}

impl Engine {
    fn new() -> Engine {
        Engine {
            meta: meta(),
            parser: HttpParser::default(),
            out: Vec::new(),
            bufs: Default::default(),
            error: None,
            last: origin(0),
        }
    }

    fn data(&mut self, dir: Dir, bytes: &[u8], o: Origin) {
        self.last = o;
        if self.error.is_some() {
            return;
        }
        let (buf, runs, needed) = &mut self.bufs[dir.index()];
        runs.push((buf.len(), o));
        buf.extend_from_slice(bytes);
        if buf.len() < *needed {
            return;
        }
        let mut cx = Cx::new(&self.meta, o, &mut self.out);
        cx.runs = runs;
        match self.parser.parse(dir, buf, &mut cx) {
            Ok(p) => {
                assert!(p.consumed <= buf.len(), "consumed past the input");
                let rest = buf.len() - p.consumed;
                if rest > 0 {
                    assert!(p.needed > rest, "needed {} <= rest {rest}", p.needed);
                    *needed = p.needed;
                } else {
                    *needed = 0;
                }
                buf.drain(..p.consumed);
                // Runs of the kept bytes, rebased.
                let mut kept: Vec<(usize, Origin)> = Vec::new();
                for (i, &(start, o)) in runs.iter().enumerate() {
                    let end = runs.get(i + 1).map_or(usize::MAX, |r| r.0);
                    if end > p.consumed {
                        kept.push((start.saturating_sub(p.consumed), o));
                    }
                }
                if rest == 0 {
                    kept.clear();
                }
                *runs = kept;
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn gap(&mut self, dir: Dir, len: u64) {
        let (buf, runs, needed) = &mut self.bufs[dir.index()];
        buf.clear();
        runs.clear();
        *needed = 0;
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        self.parser.gap(dir, len, &mut cx);
    }

    fn end(&mut self, dir: Dir, why: End) {
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        self.parser.end(dir, why, &mut cx);
    }

    fn finish(&mut self) {
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        self.parser.finish(&mut cx);
    }

    fn http(&self) -> Vec<Http> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Http(h) => Some((**h).clone()),
                _ => None,
            })
            .collect()
    }

    fn files(&self) -> Vec<crate::records::FileOut> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::File(f) => Some((**f).clone()),
                _ => None,
            })
            .collect()
    }

    fn anomalies(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Anomaly(a) => Some(a.name.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Runs the events (event i from packet i+1), each Data in pieces of
/// `piece` bytes (0: whole), then finish.
fn run_split(evs: &[Ev], piece: usize) -> Engine {
    let mut e = Engine::new();
    for (i, ev) in evs.iter().enumerate() {
        let o = origin(i as u64 + 1);
        match ev {
            Data(dir, bytes) => {
                if piece == 0 {
                    e.data(*dir, bytes, o);
                } else {
                    for p in bytes.chunks(piece) {
                        e.data(*dir, p, o);
                    }
                }
            }
            Gap(dir, len) => {
                e.last = o;
                e.gap(*dir, *len);
            }
            Close(dir, why) => {
                e.last = o;
                e.end(*dir, *why);
            }
        }
    }
    e.finish();
    e
}

/// Runs the events whole, and again 1 byte at a time and 7 bytes at a
/// time: the records must be the same.
fn run(evs: &[Ev]) -> Engine {
    let whole = run_split(evs, 0);
    assert!(whole.error.is_none(), "error: {:?}", whole.error);
    for piece in [1, 7] {
        let split = run_split(evs, piece);
        assert_eq!(
            whole.http(),
            split.http(),
            "records differ fed {piece} byte(s) at a time"
        );
        assert_eq!(
            whole.anomalies(),
            split.anomalies(),
            "anomalies differ fed {piece} at a time"
        );
    }
    whole
}

fn sha256(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}
fn md5(b: &[u8]) -> String {
    hex(&md5::Md5::digest(b))
}
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn response(body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn probe_methods_and_status_line() {
    assert_eq!(probe(C, b"GET / HTTP/1.1\r\n", false), Probe::Yes);
    assert_eq!(probe(C, b"PROPFIND /x", false), Probe::Yes);
    assert_eq!(probe(C, b"VERSION-CONTROL /x", false), Probe::Yes);
    assert_eq!(probe(C, b"", false), Probe::NeedMore);
    assert_eq!(probe(C, b"GE", false), Probe::NeedMore);
    assert_eq!(probe(C, b"GET", false), Probe::NeedMore);
    assert_eq!(probe(C, b"PROPFI", false), Probe::NeedMore);
    assert_eq!(probe(C, b"GETX / HTTP/1.1", false), Probe::No);
    assert_eq!(probe(C, b"get / HTTP/1.1", false), Probe::No);
    assert_eq!(probe(C, b"\x16\x03\x01\x02\x00", false), Probe::No);
    assert_eq!(probe(C, b"HTTP/1.1 200 OK", false), Probe::No);
    assert_eq!(probe(S, b"HTTP/1.1 200 OK", false), Probe::Yes);
    assert_eq!(probe(S, b"HTTP/1", false), Probe::NeedMore);
    assert_eq!(probe(S, b"HTTP/2 200", false), Probe::No);
    assert_eq!(probe(S, b"GET / HTTP/1.1", false), Probe::No);
    assert_eq!(PROTOCOL.name, "HTTP");
    assert_eq!((PROTOCOL.new)().name(), "HTTP");
}

#[test]
fn keep_alive_exchanges_fill_the_record() {
    let req1 = b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\n\
Referer: http://example.com/\r\nCookie: a=1; b=two\r\nOrigin: http://o.example\r\n\
X-Forwarded-For: 192.0.2.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n";
    let res1 = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\
Set-Cookie: sid=abc; Path=/; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3600; Secure; HttpOnly; SameSite=Lax\r\n\
Set-Cookie: x=y\r\n\r\nhello";
    let req2 = b"POST /form HTTP/1.0\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\
Authorization: Digest username=\"Susan\", realm=\"INS.COM\", nonce=\"x\"\r\n\r\nbody";
    let res2 = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n";
    let e = run(&[c(req1), s(res1), c(req2), s(res2)]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    let a = &h[0];
    assert_eq!((a.timestamp, a.packet_number), (1000, 1));
    assert_eq!((a.res_timestamp, a.res_packet_number), (2000, 2));
    assert_eq!(a.connection_uid, "CHTTP1");
    assert_eq!((a.src_ip.as_str(), a.src_port), ("10.0.0.1", 40000));
    assert_eq!((a.dst_ip.as_str(), a.dst_port), ("10.0.0.2", 80));
    assert_eq!(a.trans_depth, 1);
    assert_eq!(
        (a.method.as_str(), a.url.as_str(), a.proto.as_str()),
        ("GET", "/index.html?q=1", "HTTP/1.1")
    );
    assert_eq!(a.host, "example.com");
    assert_eq!(a.user_agent, "test/1.0");
    assert_eq!(a.referer, "http://example.com/");
    assert_eq!(a.origin, "http://o.example");
    assert_eq!(a.x_forwarded_for, "192.0.2.1");
    assert_eq!(
        (a.auth_type.as_str(), a.username.as_str()),
        ("Basic", "user")
    );
    assert_eq!(a.req_cookies.len(), 2);
    assert_eq!(
        (
            a.req_cookies[1].name.as_str(),
            a.req_cookies[1].value.as_str()
        ),
        ("b", "two")
    );
    assert_eq!(a.req_content_length, -1);
    assert_eq!(a.request_headers.len(), 7);
    assert_eq!(a.request_headers[0].name, "Host");
    assert_eq!(
        (a.status_code, a.status_msg.as_str(), a.res_proto.as_str()),
        (200, "OK", "HTTP/1.1")
    );
    assert_eq!(a.server, "nginx");
    assert_eq!(a.content_type, "text/html");
    assert_eq!(a.res_content_length, 5);
    assert_eq!(a.response_headers.len(), 5);
    assert_eq!(
        a.res_cookies[0],
        HttpCookie {
            name: "sid".into(),
            value: "abc".into(),
            path: "/".into(),
            domain: "example.com".into(),
            expires: "Wed, 21 Oct 2015 07:28:00 GMT".into(),
            max_age: 3600,
            secure: true,
            http_only: true,
            same_site: "Lax".into(),
        }
    );
    assert_eq!(a.res_cookies[1].name, "x");
    assert_eq!(
        (a.res_body_wire_len, a.res_body_len, a.res_body_decoded_len),
        (5, 5, 5)
    );
    assert_eq!(a.res_body_sha256, sha256(b"hello"));
    assert_eq!(a.res_body_md5, md5(b"hello"));
    assert_eq!((a.req_body_len, a.req_body_md5.as_str()), (0, ""));
    assert!(!a.partial && !a.body_truncated && !a.headers_truncated);
    let b = &h[1];
    assert_eq!(
        (b.trans_depth, b.packet_number, b.res_packet_number),
        (2, 3, 4)
    );
    assert_eq!((b.method.as_str(), b.proto.as_str()), ("POST", "HTTP/1.0"));
    assert_eq!(
        (b.auth_type.as_str(), b.username.as_str()),
        ("Digest", "Susan")
    );
    assert_eq!(b.req_content_type, "text/plain");
    assert_eq!((b.req_content_length, b.req_body_len), (4, 4));
    assert_eq!(b.req_body_sha256, sha256(b"body"));
    assert_eq!(
        (b.status_code, b.location.as_str(), b.res_content_length),
        (302, "/next", 0)
    );
    assert_eq!(b.res_body_sha256, "");
    assert!(e.anomalies().is_empty());
}

#[test]
fn pipelined_requests_pair_in_order() {
    let reqs = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut res = response(b"one");
    res.extend(response(b"two!"));
    res.extend(response(b"three"));
    let e = run(&[c(reqs), s(&res)]);
    let h = e.http();
    assert_eq!(h.len(), 3);
    for (i, (url, body)) in [("/1", &b"one"[..]), ("/2", b"two!"), ("/3", b"three")]
        .iter()
        .enumerate()
    {
        assert_eq!(h[i].url, *url);
        assert_eq!(h[i].trans_depth, i as i32 + 1);
        assert_eq!(h[i].res_body_sha256, sha256(body));
        assert_eq!(h[i].res_packet_number, 2);
    }
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let res = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
4;name=value\r\nWiki\r\n5 ; ext\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n";
    let e = run(&[
        c(b"GET / HTTP/1.1\r\n\r\n"),
        s(res),
        c(b"GET /b HTTP/1.1\r\n\r\n"),
        s(&response(b"x")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    let body = b"Wikipedia in\r\n\r\nchunks.";
    let head_len = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".len();
    assert_eq!(h[0].transfer_encoding, "chunked");
    assert_eq!(h[0].res_body_len, body.len() as i64);
    assert_eq!(h[0].res_body_decoded_len, body.len() as i64);
    assert_eq!(h[0].res_body_wire_len, (res.len() - head_len) as i64);
    assert_eq!(h[0].res_body_sha256, sha256(body));
    assert_eq!(h[0].res_content_length, -1);
    assert_eq!(h[1].res_body_sha256, sha256(b"x"));
    assert!(e.anomalies().is_empty());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = GzEncoder::new(Vec::new(), Compression::default());
    g.write_all(data).unwrap();
    g.finish().unwrap()
}

fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(size) {
        out.extend(format!("{:x}\r\n", piece.len()).bytes());
        out.extend_from_slice(piece);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

#[test]
fn gzip_and_deflate_bodies_are_decoded() {
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let gz = gzip(&text);
    let mut zl = ZlibEncoder::new(Vec::new(), Compression::default());
    zl.write_all(&text).unwrap();
    let zl = zl.finish().unwrap();
    let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
    raw.write_all(&text).unwrap();
    let raw = raw.finish().unwrap();

    let mut r1 =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    r1.extend(chunked(&gz, 1000));
    let mut r2 = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n",
        zl.len()
    )
    .into_bytes();
    r2.extend(&zl);
    let mut r3 = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n",
        raw.len()
    )
    .into_bytes();
    r3.extend(&raw);
    let mut r4 = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    r4.extend(&gz);
    // Corrupt gzip: the de-chunked bytes are hashed and the body marked truncated.
    let mut bad = gz.clone();
    bad[20] ^= 0xff;
    bad[21] ^= 0xff;
    let mut r5 = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        bad.len()
    )
    .into_bytes();
    r5.extend(&bad);
    let get = c(b"GET / HTTP/1.1\r\n\r\n");
    let e = run(&[
        get.clone(),
        s(&r1),
        get.clone(),
        s(&r2),
        get.clone(),
        s(&r3),
        get.clone(),
        s(&r4),
        get,
        s(&r5),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 5);
    for (i, enc) in [gz.len(), zl.len(), raw.len(), gz.len()].iter().enumerate() {
        assert_eq!(h[i].res_body_sha256, sha256(&text), "response {i}");
        assert_eq!(h[i].res_body_md5, md5(&text), "response {i}");
        assert_eq!(h[i].res_body_len, *enc as i64);
        assert_eq!(h[i].res_body_decoded_len, text.len() as i64);
        assert!(!h[i].body_truncated);
    }
    assert_eq!(h[0].content_encoding, "gzip");
    assert_eq!(h[0].res_body_wire_len, chunked(&gz, 1000).len() as i64);
    assert_eq!(h[4].res_body_sha256, sha256(&bad));
    assert_eq!(h[4].res_body_decoded_len, bad.len() as i64);
    assert!(h[4].body_truncated);
}

#[test]
fn decoding_stops_at_the_limit() {
    // 40 MiB of zeros compress to ~40 KiB.
    let zeros = vec![0u8; 40 << 20];
    let gz = gzip(&zeros);
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    r.extend(&gz);
    let e = run_split(&[c(b"GET / HTTP/1.1\r\n\r\n"), s(&r)], 0);
    let h = e.http();
    assert_eq!(h[0].res_body_decoded_len, body::DECODE_MAX as i64);
    assert_eq!(
        h[0].res_body_sha256,
        sha256(&zeros[..body::DECODE_MAX as usize])
    );
    assert!(h[0].body_truncated);
    assert_eq!(h[0].res_body_len, gz.len() as i64);
}

#[test]
fn head_304_204_have_no_body() {
    let e = run(&[
        c(b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        s(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"),
        s(b"HTTP/1.1 204 No Content\r\n\r\n"),
        s(&response(b"d")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 4);
    assert_eq!(
        (h[0].status_code, h[0].res_content_length, h[0].res_body_len),
        (200, 1000, 0)
    );
    assert_eq!((h[1].status_code, h[1].res_body_len), (304, 0));
    assert_eq!((h[2].status_code, h[2].res_body_len), (204, 0));
    assert_eq!(
        (h[3].url.as_str(), h[3].res_body_sha256.clone()),
        ("/d", sha256(b"d"))
    );
    assert_eq!(h[3].res_packet_number, 5);
}

#[test]
fn interim_response_precedes_the_final_one() {
    let e = run(&[
        c(b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
        s(b"HTTP/1.1 100 Continue\r\n\r\n"),
        c(b"abc"),
        s(b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].info_code, h[0].info_msg.as_str()),
        (102, "Processing")
    );
    assert_eq!(
        (h[0].status_code, h[0].status_msg.as_str()),
        (201, "Created")
    );
    assert_eq!(h[0].req_body_sha256, sha256(b"abc"));
    assert_eq!(h[0].res_body_sha256, sha256(b"ok"));
    assert_eq!(h[0].res_packet_number, 4);
}

#[test]
fn response_without_length_ends_with_the_direction() {
    let e = run(&[
        c(b"GET / HTTP/1.0\r\n\r\n"),
        s(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome "),
        s(b"text"),
        Close(S, End::Fin),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].res_content_length, h[0].res_body_len), (-1, 9));
    assert_eq!(h[0].res_body_sha256, sha256(b"some text"));
    assert!(!h[0].partial);
    // Without end: finish writes it.
    let e = run(&[
        c(b"GET / HTTP/1.0\r\n\r\n"),
        s(b"HTTP/1.0 200 OK\r\n\r\nabc"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].res_body_sha256, sha256(b"abc"));
    // Cut by a reset: partial.
    let e = run(&[
        c(b"GET / HTTP/1.0\r\n\r\n"),
        s(b"HTTP/1.0 200 OK\r\n\r\nabc"),
        Close(S, End::Reset),
    ]);
    assert!(e.http()[0].partial);
}

#[test]
fn request_without_response_and_response_without_request() {
    let e = run(&[c(b"GET /lonely HTTP/1.1\r\nHost: h\r\n\r\n")]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].url.as_str(), h[0].status_code, h[0].res_packet_number),
        ("/lonely", 0, 0)
    );
    assert_eq!(h[0].res_content_length, -1);

    let e = run(&[
        s(&response(b"orphan")),
        c(b"GET /x HTTP/1.1\r\n\r\n"),
        s(&response(b"x")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].method.as_str(), h[0].status_code), ("", 200));
    assert_eq!(
        (h[0].timestamp, h[0].packet_number, h[0].res_packet_number),
        (1000, 1, 1)
    );
    assert_eq!(h[0].res_body_sha256, sha256(b"orphan"));
    assert_eq!(
        (
            h[1].url.as_str(),
            h[1].trans_depth,
            h[1].packet_number,
            h[1].res_packet_number
        ),
        ("/x", 2, 2, 3)
    );
}

#[test]
fn request_body_still_coming_holds_the_record() {
    // The server answers before the request body is complete.
    let e = run(&[
        c(b"POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc"),
        s(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"),
        c(b"def"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].status_code, h[0].req_body_sha256.clone()),
        (413, sha256(b"abcdef"))
    );
}

#[test]
fn gap_inside_a_body_is_skipped() {
    let e = run(&[
        c(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
        Gap(S, 50),
        s(&[b'x'; 40]),
        s(&response(b"next")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert!(h[0].partial && h[0].body_truncated);
    assert_eq!(h[0].missed_bytes, 50);
    assert_eq!((h[0].res_body_len, h[0].res_body_wire_len), (50, 50));
    let mut seen = b"0123456789".to_vec();
    seen.extend([b'x'; 40]);
    assert_eq!(h[0].res_body_sha256, sha256(&seen));
    assert_eq!(h[1].res_body_sha256, sha256(b"next"));
    assert!(!h[1].partial);
    // Inside a chunk too.
    let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123".to_vec();
    let rest = b"456789abcdefghijklmnopqrstuv\r\n0\r\n\r\n";
    let e = run(&[
        c(b"GET / HTTP/1.1\r\n\r\n"),
        s(&r),
        Gap(S, 4),
        s(&rest[4..]),
    ]);
    let h = e.http();
    assert_eq!((h[0].missed_bytes, h[0].res_body_len), (4, 28));
    r.clear();
}

#[test]
fn gap_in_a_head_resyncs() {
    let e = run(&[
        c(b"GET /a HTTP/1.1\r\nHo"),
        Gap(C, 100),
        c(b"st: x\r\nAccept: */*\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-"),
        Gap(S, 30),
        s(b"garbage\r\nmore body\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].url.as_str(), h[0].host.as_str(), h[0].status_code),
        ("/b", "y", 404)
    );
    assert_eq!(h[0].res_body_sha256, sha256(b"no"));
    assert!(e.anomalies().is_empty());
    // A gap that the body cannot absorb: the exchange is partial, the next one parses.
    let e = run(&[
        c(b"GET /a HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"),
        Gap(S, 50),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert!(h[0].partial);
    assert_eq!((h[0].missed_bytes, h[0].res_body_len), (50, 5));
    assert_eq!(
        (h[1].method.as_str(), h[1].res_body_sha256.clone()),
        ("", sha256(b"z"))
    );
}

#[test]
fn garbage_gives_an_anomaly_and_resync() {
    let e = run(&[
        c(b"GET /a HTTP/1.1\r\n\r\n\x00\x01binary junk\r\nmore junk\nGET /b HTTP/1.1\r\n\r\n"),
        s(&response(b"a")),
        s(b"\x00garbage\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[1].url.as_str(), h[1].res_body_sha256.clone()),
        ("/b", sha256(b"b"))
    );
    assert_eq!(
        e.anomalies(),
        ["http_invalid_request", "http_invalid_response"]
    );
    // A bad chunk size: anomaly, partial, and the next response still parses.
    let e = run(&[
        c(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        s(&response(b"b")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert!(h[0].partial);
    assert_eq!(h[1].res_body_sha256, sha256(b"b"));
    assert_eq!(e.anomalies(), ["http_invalid_chunk"]);
}

#[test]
fn not_http_is_an_error() {
    let e = run_split(&[c(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")], 0);
    assert!(e.error.is_some());
    let e = run_split(&[c(b"HELLO THERE\r\n\r\n")], 0);
    assert!(e.error.is_some());
    // A request line that httparse rejects still looks like HTTP: anomaly, no error.
    let e = run(&[c(b"GET /a b c HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n")]);
    assert_eq!(e.anomalies(), ["http_invalid_request"]);
    assert_eq!(e.http()[0].url, "/ok");
}

#[test]
fn connect_and_upgrade_stop_parsing() {
    let e = run(&[
        c(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello"),
        s(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02xx"),
        c(b"GET / HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\n\r\n"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].method.as_str(), h[0].status_code, h[0].res_body_len),
        ("CONNECT", 200, 0)
    );
    assert!(e.anomalies().is_empty());
    let e = run(&[
        c(b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
        c(b"\x81\x85abcdefghi"),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].status_code, h[0].info_code), (101, 0));
    assert!(e.anomalies().is_empty());
}

#[test]
fn many_and_long_headers_are_capped() {
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..300 {
        req.extend(format!("X-H{i}: v\r\n").bytes());
    }
    req.extend(b"Host: late\r\n\r\n");
    let e = run_split(&[c(&req), s(&response(b""))], 0);
    let h = e.http();
    assert_eq!(h[0].request_headers.len(), head::LIST_MAX);
    assert_eq!(h[0].host, "late");
    assert!(h[0].headers_truncated);
    // A header value over the string cap.
    let long = "a".repeat(20_000);
    let req = format!("GET / HTTP/1.1\r\nUser-Agent: {long}\r\n\r\n");
    let e = run_split(&[c(req.as_bytes())], 0);
    assert_eq!(e.http()[0].user_agent.len(), head::STR_MAX);
    // A head that never ends within the limit.
    let mut req = b"GET /big HTTP/1.1\r\n".to_vec();
    while req.len() < HEAD_MAX + 100 {
        req.extend(b"X-Pad: 0123456789012345678901234567890123456789\r\n");
    }
    req.extend(b"\r\nGET /after HTTP/1.1\r\n\r\n");
    let e = run_split(&[c(&req), s(&response(b"1")), s(&response(b"2"))], 1000);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].url.as_str(), h[0].headers_truncated, h[0].partial),
        ("/big", true, true)
    );
    assert_eq!(h[1].url, "/after");
    assert_eq!(e.anomalies(), ["http_header_too_long"]);
}

#[test]
fn base64_and_auth() {
    assert_eq!(head::base64(b"dXNlcjpwYXNz"), b"user:pass");
    assert_eq!(head::base64(b"YQ=="), b"a");
    assert_eq!(head::base64(b"YWI"), b"ab");
    assert_eq!(body::chunk_size(b"1A;x=y"), Some(26));
    assert_eq!(body::chunk_size(b" 0 "), Some(0));
    assert_eq!(body::chunk_size(b""), None);
    assert_eq!(body::chunk_size(b"fffffffffffffffff"), None);
    assert_eq!(body::chunk_size(b"-1"), None);
}

/// A deterministic xorshift for the mutation test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_and_truncated_inputs_do_not_panic() {
    let gz = gzip(b"compressible compressible compressible compressible");
    let mut res = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=b; Max-Age=x; Secure\r\n\r\n".to_vec();
    res.extend(chunked(&gz, 7));
    res.extend(response(b"second"));
    res.extend(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\ntail");
    let req = b"GET /a HTTP/1.1\r\nHost: h\r\nCookie: x=1;;=;y\r\nAuthorization: Digest realm=\"r\\\"\", username=\"u\r\n\r\n\
POST /b HTTP/1.1\r\nContent-Length: 3\r\nAuthorization: Basic !!!\r\n\r\nabcHEAD /c HTTP/1.1\r\n\r\n";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let mut q = req.to_vec();
        let mut r = res.clone();
        for buf in [&mut q, &mut r] {
            for _ in 0..rng.below(6) {
                if buf.is_empty() {
                    break;
                }
                let i = rng.below(buf.len());
                match rng.below(4) {
                    0 => buf[i] = rng.next() as u8,
                    1 => buf[i] = b"\r\n :;0\"="[rng.below(8)],
                    2 => {
                        buf.remove(i);
                    }
                    _ => buf.truncate(i),
                }
            }
        }
        let qcut = rng.below(q.len() + 1);
        let rcut = rng.below(r.len() + 1);
        let evs = vec![
            c(&q[..qcut]),
            s(&r[..rcut]),
            if round % 3 == 0 {
                Gap(S, rng.below(20) as u64 + 1)
            } else {
                Gap(C, 3)
            },
            c(&q[qcut..]),
            s(&r[rcut..]),
            Close(C, End::Fin),
        ];
        for piece in [0, 1, 5] {
            let e = run_split(&evs, piece);
            for h in e.http() {
                assert!(h.trans_depth >= 1);
            }
        }
    }
}

/// One captured connection: (frame, direction, payload) per segment.
fn fixture(name: &str) -> Vec<(u64, Dir, Vec<u8>)> {
    let path = format!(
        "{}/src/http/testdata/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|l| {
            let mut f = l.split(' ');
            let frame = f.next().unwrap().parse().unwrap();
            let dir = if f.next().unwrap() == "C" { C } else { S };
            let hex = f.next().unwrap().as_bytes();
            let bytes = hex
                .chunks(2)
                .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
                .collect();
            (frame, dir, bytes)
        })
        .collect()
}

fn replay(name: &str, piece: usize) -> Engine {
    let mut e = Engine::new();
    for (frame, dir, bytes) in fixture(name) {
        if piece == 0 {
            e.data(dir, &bytes, origin(frame));
        } else {
            for p in bytes.chunks(piece) {
                e.data(dir, p, origin(frame));
            }
        }
    }
    e.finish();
    assert!(e.error.is_none());
    assert!(e.anomalies().is_empty(), "{:?}", e.anomalies());
    e
}

#[test]
fn capture_gzip_chunked_keepalive() {
    let e = replay("http-gzip-chunked-keepalive", 0);
    let h = e.http();
    assert_eq!(h.len(), 3);
    let want = [
        // The status line's packet, not tshark's (where the body completes).
        (
            4,
            5,
            "/",
            "chunked",
            -1,
            85419,
            "269c51a810dd9b5a5ba0b7142d58be857a82f4c8d90dfaea94157ef3d4197f37",
        ),
        (
            27,
            28,
            "/ajax/Horoscope.aspx?zodiacsign=ari&lcid=en-ca",
            "",
            382,
            659,
            "524af82d4ba74f93706ac7b8cb88d0b1f924774e29b970cfe5bd225c434d3f64",
        ),
        (
            29,
            31,
            "/blank.aspx?1295981545068",
            "",
            65,
            50,
            "99af9dacec3549256efe233625fc1f9fbb028aeb1e47fa7f109c18ce91eb5b32",
        ),
    ];
    for (h, (req, res, url, te, cl, len, sha)) in h.iter().zip(want) {
        assert_eq!((h.packet_number, h.res_packet_number), (req, res));
        assert_eq!(h.url, url);
        assert_eq!((h.status_code, h.content_encoding.as_str()), (200, "gzip"));
        assert_eq!(h.transfer_encoding, te);
        assert_eq!(h.res_content_length, cl);
        assert_eq!(h.res_body_decoded_len, len);
        assert_eq!(h.res_body_sha256, sha);
        assert_eq!(h.host, "ca.msn.com");
        assert!(!h.partial && !h.body_truncated);
    }
    assert_eq!(h, replay("http-gzip-chunked-keepalive", 1).http());
}

#[test]
fn capture_pdf_download() {
    let e = replay("http-pdf-download", 0);
    let h = e.http();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].url, "/default/tmp/bidi-logo.pdf");
    assert_eq!(h[0].content_type, "application/pdf");
    assert_eq!((h[0].packet_number, h[0].res_packet_number), (4, 6));
    assert_eq!(
        (h[0].res_body_len, h[0].res_body_decoded_len),
        (17869, 17869)
    );
    assert_eq!(
        h[0].res_body_sha256,
        "c59b846043b2cf6b6ac73bf67f9c5660f354a12311ce405927a8916bffc70c4f"
    );
    assert_eq!(h, replay("http-pdf-download", 3).http());
}

#[test]
fn capture_midstream_response_first() {
    let e = replay("tcp-midstream-http-response-first", 0);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (
            h[0].method.as_str(),
            h[0].status_code,
            h[0].res_content_length
        ),
        ("", 200, 11)
    );
    assert_eq!((h[0].packet_number, h[0].res_packet_number), (2, 2));
    assert_eq!(h[0].res_body_len, 11);
    assert_eq!(
        (h[1].method.as_str(), h[1].url.as_str()),
        ("GET", "/favicon.ico")
    );
    assert_eq!(
        (h[1].status_code, h[1].res_content_length, h[1].res_body_len),
        (404, 209, 209)
    );
    assert_eq!(
        (h[1].packet_number, h[1].res_packet_number, h[1].trans_depth),
        (3, 4, 2)
    );
}

#[test]
fn unanswered_requests_do_not_pile_up() {
    let reqs: Vec<u8> = (0..300)
        .flat_map(|i| format!("GET /{i} HTTP/1.1\r\n\r\n").into_bytes())
        .collect();
    let mut e = Engine::new();
    e.data(C, &reqs, origin(1));
    // The oldest are written before the end, unanswered.
    assert_eq!(e.http().len(), 300 - PENDING_MAX);
    assert!(e.parser.pending.len() <= PENDING_MAX);
    e.finish();
    let h = e.http();
    assert_eq!(h.len(), 300);
    assert!(h
        .iter()
        .enumerate()
        .all(|(i, h)| h.url == format!("/{i}") && h.status_code == 0));
}

#[test]
fn refused_connect_goes_back_to_http() {
    let e = run(&[
        c(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
        s(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!"),
        c(b"GET /next HTTP/1.1\r\n\r\n"),
        s(&response(b"ok")),
    ]);
    let h = e.http();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].status_code, h[0].res_body_sha256.clone()),
        (403, sha256(b"no!"))
    );
    assert_eq!(
        (h[1].url.as_str(), h[1].res_body_sha256.clone()),
        ("/next", sha256(b"ok"))
    );
    assert!(e.anomalies().is_empty());
}

/// File records of the HTTP bodies: the hashes of the objects tshark
/// exports (`--export-objects http`, testdata/streams/README.md), the
/// names, the sniffed types, the links from the HTTP records, and the
/// content kept when extraction is on.
#[test]
fn bodies_are_files() {
    let e = replay("http-gzip-chunked-keepalive", 0);
    let (h, f) = (e.http(), e.files());
    assert_eq!(f.len(), 3);
    for (i, (f, h)) in f.iter().zip(&h).enumerate() {
        assert_eq!(f.rec.sha256, h.res_body_sha256);
        assert_eq!(f.rec.hash, h.res_body_md5);
        assert_eq!(f.rec.file_uid, format!("CHTTP1.F{}", i + 1));
        assert_eq!(h.res_file_uid, f.rec.file_uid);
        assert_eq!(h.req_file_uid, "");
        assert_eq!(
            (f.rec.source.as_str(), f.rec.encoding.as_str()),
            ("HTTP", "gzip")
        );
        assert_eq!(f.rec.host, "ca.msn.com");
        assert_eq!(f.rec.state, "CLOSED");
        assert!(!f.rec.to_server);
        assert_eq!(f.rec.depth, h.trans_depth);
        assert_eq!(f.rec.timestamp, h.res_timestamp);
        assert_eq!(f.data, None);
    }
    assert_eq!(f[0].rec.name, "");
    assert_eq!(f[1].rec.name, "Horoscope.aspx");
    assert_eq!(f[0].rec.content_type_detected, "text/html");

    let mut e = Engine::new();
    e.meta.files_max = 1 << 20;
    for (frame, dir, bytes) in fixture("http-pdf-download") {
        e.data(dir, &bytes, origin(frame));
    }
    e.finish();
    let f = e.files();
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.rec.name, "bidi-logo.pdf");
    assert_eq!(
        (
            f.rec.content_type.as_str(),
            f.rec.content_type_detected.as_str()
        ),
        ("application/pdf", "application/pdf")
    );
    assert_eq!(
        f.rec.sha256,
        "c59b846043b2cf6b6ac73bf67f9c5660f354a12311ce405927a8916bffc70c4f"
    );
    assert_eq!((f.rec.length, f.rec.total_bytes), (17869, 17869));
    let data = f.data.as_ref().unwrap();
    assert_eq!(data.len(), 17869);
    assert_eq!(sha256(data), f.rec.sha256);
    assert_eq!(f.rec.sha1, {
        use sha1::Digest as _;
        hex(&sha1::Sha1::digest(data))
    });
}

/// A request body is a File sent by the client; a Content-Disposition
/// names it; a body cut by a gap is truncated and counts its missing bytes.
#[test]
fn request_bodies_disposition_and_gaps() {
    let body = b"%PDF-1.7 upload";
    let mut req = format!(
        "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/pdf\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let res = b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r.txt\"\r\nContent-Length: 20\r\n\r\n0123456789";
    let mut e = Engine::new();
    e.data(Dir::ToServer, &req, origin(1));
    e.data(Dir::ToClient, res, origin(2));
    e.gap(Dir::ToClient, 10);
    e.finish();
    let f = e.files();
    assert_eq!(f.len(), 2);
    assert!(f[0].rec.to_server);
    assert_eq!(f[0].rec.name, "up");
    assert_eq!(f[0].rec.content_type, "application/pdf");
    assert_eq!(f[0].rec.sha256, sha256(body));
    assert_eq!(f[1].rec.name, "r.txt");
    assert_eq!((f[1].rec.length, f[1].rec.missing_bytes), (10, 10));
    assert_eq!(f[1].rec.state, "TRUNCATED");
    let h = e.http();
    assert_eq!(
        (h[0].req_file_uid.as_str(), h[0].res_file_uid.as_str()),
        ("CHTTP1.F1", "CHTTP1.F2")
    );
}
