//! HTTP/1.0 and 1.1 over TCP.
//!
//! Heads are parsed zero-copy by `httparse` once the blank line that ends
//! them is in the input (the engine buffers until then); bodies are streamed
//! as they arrive, de-chunked, content-decoded and hashed without being kept
//! (module `body`). One [`Http`] record per exchange: requests queue up in order,
//! responses answer the oldest unanswered request (keep-alive, pipelining),
//! and a record is written when both of its messages are complete.
//!
//! Gaps and garbage do not stop the parser: a gap inside a body of known
//! length is skipped; otherwise the direction resynchronises on the next line
//! that starts a request line (client) or a status line (server).

mod body;
mod head;
mod wire;

#[cfg(test)]
pub(crate) use head::credentials as head_credentials;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use netcap_schema::Http;

use crate::parser::{Cx, Dir, End, Origin, ParseError, Parsed, Probe, Protocol, StreamParser};
use crate::records::StreamRecord;

use body::{Body, Chunk, Feed, Framing};
use head::Length;
use wire::{config, head_end, head_start, probe, resync_point, with_request, with_response};

/// The HTTP stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "HTTP",
    ports: &[80, 81, 8000, 8008, 8080, 8888, 3128],
    probe,
    new: || Box::new(HttpParser::default()),
};

/// Longest message head: a longer one is reported and skipped.
const HEAD_MAX: usize = 64 * 1024;
/// Headers parsed without allocating (more fall back to a heap buffer sized
/// by the head, which [`HEAD_MAX`] bounds).
const HEADERS_INLINE: usize = 128;
/// Most exchanges waiting for their response: past it the oldest is written
/// unanswered, so that a client that is never answered cannot grow the queue.
const PENDING_MAX: usize = 128;

/// A short printable excerpt of wire bytes for anomaly details.
fn excerpt(data: &[u8]) -> String {
    let s = String::from_utf8_lossy(data.get(..32).unwrap_or(data));
    s.escape_debug().to_string()
}

/// Where a response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    /// No final response yet.
    Waiting,
    /// Final response head seen, body in progress.
    Body,
    Done,
}

/// One request/response exchange being built.
#[derive(Debug)]
struct Exchange {
    /// Its TransDepth, which also identifies it.
    id: u64,
    rec: Http,
    req_done: bool,
    res: Res,
    /// The response has no body (HEAD).
    is_head: bool,
    /// A 2xx response opens a tunnel (CONNECT).
    is_connect: bool,
}

/// What a direction is doing.
#[derive(Debug, Default)]
enum State {
    /// At the start of a message head.
    #[default]
    Head,
    /// Inside the body of exchange `ex`.
    Body { ex: u64, body: Body },
    /// Skipping to a line that starts a message; `line_start`: the input
    /// begins at a line start.
    Resync { line_start: bool },
    /// After CONNECT 2xx or 101: not HTTP any more, everything is consumed.
    Tunnel,
    /// The direction ended.
    Ended,
}

/// The outcome of one step of a direction.
enum Step {
    /// Consumed that many bytes (0 only when the state changed).
    Advance(usize),
    /// Needs at least that many bytes from the current position.
    Need(usize),
}

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct HttpParser {
    client: State,
    server: State,
    /// Exchanges not yet written, oldest first.
    pending: VecDeque<Exchange>,
    /// TransDepth of the last exchange.
    depth: u64,
    /// A head parsed in either direction: the connection is HTTP.
    seen_http: bool,
    /// The client direction resynchronised or had a gap (its first bytes
    /// no longer tell whether the stream is HTTP).
    client_disturbed: bool,
    /// Bodies written as File records so far.
    files: u64,
}

impl HttpParser {
    fn state(&mut self, dir: Dir) -> &mut State {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }

    fn exchange(&mut self, id: u64) -> Option<&mut Exchange> {
        self.pending.iter_mut().find(|e| e.id == id)
    }

    /// A new exchange whose first message starts at `origin`.
    fn open(&mut self, cx: &mut Cx<'_>, origin: Origin) -> u64 {
        if self.pending.len() >= PENDING_MAX {
            if let Some(old) = self.pending.pop_front() {
                emit(cx, old);
            }
        }
        self.depth += 1;
        let m = cx.meta;
        let rec = Http {
            timestamp: origin.ts_ns,
            packet_number: origin.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            trans_depth: i32::try_from(self.depth).unwrap_or(i32::MAX),
            req_content_length: -1,
            res_content_length: -1,
            ..Http::default()
        };
        self.pending.push_back(Exchange {
            id: self.depth,
            rec,
            req_done: false,
            res: Res::Waiting,
            is_head: false,
            is_connect: false,
        });
        self.depth
    }

    /// The exchange a response answers: the oldest without a final response,
    /// or a new one without request.
    fn answered(&mut self, cx: &mut Cx<'_>, origin: Origin) -> u64 {
        if let Some(e) = self.pending.iter().find(|e| e.res == Res::Waiting) {
            return e.id;
        }
        let id = self.open(cx, origin);
        if let Some(e) = self.exchange(id) {
            e.req_done = true;
        }
        id
    }

    /// Writes the complete exchanges at the head of the queue.
    fn flush(&mut self, cx: &mut Cx<'_>) {
        while self
            .pending
            .front()
            .is_some_and(|e| e.req_done && e.res == Res::Done)
        {
            if let Some(e) = self.pending.pop_front() {
                emit(cx, e);
            }
        }
    }

    /// One step of direction `dir` over `rest` (not empty), which starts at
    /// offset `at` of the call's input.
    fn step(
        &mut self,
        dir: Dir,
        rest: &[u8],
        at: usize,
        cx: &mut Cx<'_>,
    ) -> Result<Step, ParseError> {
        let state = std::mem::take(self.state(dir));
        let (state, step) = match state {
            State::Head => match dir {
                Dir::ToServer => self.request(rest, at, cx)?,
                Dir::ToClient => self.response(rest, at, cx),
            },
            State::Body { ex, mut body } => match body.feed(rest) {
                Feed::Used(n) => (State::Body { ex, body }, Step::Advance(n)),
                Feed::Need(n) => (State::Body { ex, body }, Step::Need(n)),
                Feed::Done(n) => {
                    let next = self.body_done(dir, ex, body, false, 0, cx);
                    (next, Step::Advance(n))
                }
                Feed::Bad(why) => {
                    cx.anomaly(
                        dir,
                        "http",
                        "http_invalid_chunk",
                        format!("{why}: \"{}\"", excerpt(rest)),
                    );
                    self.body_done(dir, ex, body, true, 0, cx);
                    // The bytes may be the next message (a server that got the framing wrong).
                    (State::Resync { line_start: true }, Step::Advance(0))
                }
            },
            State::Resync { line_start } => resync(dir, rest, line_start),
            State::Tunnel => (State::Tunnel, Step::Advance(rest.len())),
            State::Ended => (State::Ended, Step::Advance(rest.len())),
        };
        *self.state(dir) = state;
        Ok(step)
    }

    /// Ends the body of exchange `ex` in direction `dir` and tells the
    /// direction's next state. `cut`: the body did not complete; `missed`:
    /// bytes lost with it.
    fn body_done(
        &mut self,
        dir: Dir,
        ex: u64,
        body: Body,
        cut: bool,
        missed: u64,
        cx: &mut Cx<'_>,
    ) -> State {
        let mut r = body.finish();
        let mut next = State::Head;
        let file_uid = if r.len > 0 {
            self.files += 1;
            crate::file::file_uid(&cx.meta.uid, self.files)
        } else {
            String::new()
        };
        if let Some(e) = self.exchange(ex) {
            let missed = r.missed.saturating_add(missed);
            if r.len > 0 {
                let file = std::mem::take(&mut r.file);
                file_info(
                    &e.rec,
                    dir,
                    file_uid.clone(),
                    missed,
                    cut || r.truncated,
                    r.decoded_from,
                )
                .emit(file, cx);
            }
            let rec = &mut e.rec;
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            rec.missed_bytes = rec.missed_bytes.saturating_add(n(missed));
            rec.partial |= cut || missed > 0;
            rec.body_truncated |= r.truncated;
            match dir {
                Dir::ToServer => {
                    (rec.req_body_wire_len, rec.req_body_len) = (n(r.wire_len), n(r.len));
                    rec.req_body_decoded_len = n(r.decoded_len);
                    (rec.req_body_md5, rec.req_body_sha256) = (r.md5, r.sha256);
                    rec.req_file_uid = file_uid;
                    e.req_done = true;
                    if e.is_connect {
                        next = State::Resync { line_start: true };
                    }
                }
                Dir::ToClient => {
                    (rec.res_body_wire_len, rec.res_body_len) = (n(r.wire_len), n(r.len));
                    rec.res_body_decoded_len = n(r.decoded_len);
                    (rec.res_body_md5, rec.res_body_sha256) = (r.md5, r.sha256);
                    rec.res_file_uid = file_uid;
                    e.res = Res::Done;
                }
            }
        }
        self.flush(cx);
        next
    }

    /// Garbage where a head should start: an error when nothing shows the
    /// stream is HTTP (the client's first bytes do not even start with a
    /// known method), else an anomaly and resynchronisation.
    fn garbage(
        &mut self,
        dir: Dir,
        rest: &[u8],
        why: &str,
        cx: &mut Cx<'_>,
    ) -> Result<(State, Step), ParseError> {
        if dir == Dir::ToServer
            && !self.seen_http
            && !self.client_disturbed
            && probe(dir, rest, false) != Probe::Yes
        {
            return Err(ParseError(format!(
                "not HTTP: {why}: \"{}\"",
                excerpt(rest)
            )));
        }
        let name = match dir {
            Dir::ToServer => {
                self.client_disturbed = true;
                "http_invalid_request"
            }
            Dir::ToClient => "http_invalid_response",
        };
        cx.anomaly(dir, "http", name, format!("{why}: \"{}\"", excerpt(rest)));
        Ok((State::Resync { line_start: false }, Step::Advance(0)))
    }

    /// A head start: leading empty lines are skipped; returns the complete
    /// head's length, or the step to take meanwhile.
    fn head_bounds(dir: Dir, rest: &[u8]) -> Result<usize, Option<Step>> {
        let blank = rest
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if blank > 0 {
            return Err(Some(Step::Advance(blank)));
        }
        match head_start(dir, rest) {
            Probe::No => return Err(None),
            Probe::NeedMore => return Err(Some(Step::Need(rest.len() + 1))),
            Probe::Yes => {}
        }
        let window = rest.get(..HEAD_MAX).unwrap_or(rest);
        match head_end(window) {
            Some(end) => Ok(end),
            None if rest.len() >= HEAD_MAX => Ok(0),
            None => Err(Some(Step::Need(rest.len() + 1))),
        }
    }

    /// A request head at the start of `rest`.
    fn request(
        &mut self,
        rest: &[u8],
        at: usize,
        cx: &mut Cx<'_>,
    ) -> Result<(State, Step), ParseError> {
        let dir = Dir::ToServer;
        let end = match Self::head_bounds(dir, rest) {
            Ok(end) => end,
            Err(Some(step)) => return Ok((State::Head, step)),
            Err(None) => return self.garbage(dir, rest, "no request line", cx),
        };
        let origin = cx.origin(at);
        if end == 0 {
            return Ok(self.request_too_long(rest, origin, cx));
        }
        let head = rest.get(..end).unwrap_or(rest);
        let parsed = with_request(head, |req, n| {
            let facts = head::facts(req.headers);
            let mut rec = Http::default();
            head::fill_request(&mut rec, req, &facts);
            (rec, facts, n)
        });
        let (fields, facts, n) = match parsed {
            Ok(p) => p,
            Err(e) => {
                let why = format!("bad request head ({e})");
                return self.garbage(dir, rest, &why, cx);
            }
        };
        self.seen_http = true;
        let id = self.open(cx, origin);
        let framing = match (facts.chunked, facts.length) {
            (true, _) => Some(Framing::Chunked(Chunk::Size)),
            (false, Length::Valid(0) | Length::Absent) => None,
            (false, Length::Valid(len)) => Some(Framing::Length(len)),
            (false, Length::Invalid) => {
                cx.anomaly(dir, "http", "http_invalid_content_length", excerpt(head));
                None
            }
        };
        let Some(e) = self.exchange(id) else {
            return Ok((State::Head, Step::Advance(n)));
        };
        merge_request(&mut e.rec, fields);
        e.is_head = e.rec.method.eq_ignore_ascii_case("HEAD");
        e.is_connect = e.rec.method.eq_ignore_ascii_case("CONNECT");
        let is_connect = e.is_connect;
        let state = match framing {
            Some(f) => State::Body {
                ex: id,
                body: Body::new(f, facts.coding, cx.meta.files_max),
            },
            None => {
                e.req_done = true;
                self.flush(cx);
                // Until the proxy answers, what follows CONNECT may be tunnelled
                // bytes: skip them quietly to the next request line.
                if is_connect {
                    State::Resync { line_start: true }
                } else {
                    State::Head
                }
            }
        };
        Ok((state, Step::Advance(n)))
    }

    /// A request head longer than [`HEAD_MAX`]: written with what its request
    /// line tells, and skipped.
    fn request_too_long(&mut self, rest: &[u8], origin: Origin, cx: &mut Cx<'_>) -> (State, Step) {
        let window = rest.get(..HEAD_MAX).unwrap_or(rest);
        cx.anomaly(
            Dir::ToServer,
            "http",
            "http_header_too_long",
            format!(
                "request head over {HEAD_MAX} bytes: \"{}\"",
                excerpt(window)
            ),
        );
        let mut inline = [httparse::EMPTY_HEADER; HEADERS_INLINE];
        let mut req = httparse::Request::new(&mut inline);
        // Partial parse: the request line's fields are filled even so.
        let _ = config().parse_request(&mut req, window);
        let (method, path, version) = (req.method, req.path, req.version);
        self.seen_http = true;
        let id = self.open(cx, origin);
        if let Some(e) = self.exchange(id) {
            e.rec.method = head::text(method.unwrap_or_default().as_bytes());
            e.rec.url = head::text(path.unwrap_or_default().as_bytes());
            e.rec.proto = version.map(|v| format!("HTTP/1.{v}")).unwrap_or_default();
            e.rec.headers_truncated = true;
            e.rec.partial = true;
            e.req_done = true;
        }
        self.flush(cx);
        (
            State::Resync { line_start: false },
            Step::Advance(window.len()),
        )
    }

    /// A response head at the start of `rest`.
    fn response(&mut self, rest: &[u8], at: usize, cx: &mut Cx<'_>) -> (State, Step) {
        let dir = Dir::ToClient;
        let garbage = |p: &mut Self, cx: &mut Cx<'_>, why: &str| {
            // Errors are only for the client direction: cannot fail here.
            p.garbage(dir, rest, why, cx)
                .unwrap_or((State::Resync { line_start: false }, Step::Advance(0)))
        };
        let end = match Self::head_bounds(dir, rest) {
            Ok(end) => end,
            Err(Some(step)) => return (State::Head, step),
            Err(None) => return garbage(self, cx, "no status line"),
        };
        let origin = cx.origin(at);
        if end == 0 {
            return self.response_too_long(rest, origin, cx);
        }
        let head = rest.get(..end).unwrap_or(rest);
        let parsed = with_response(head, |res, n| {
            let facts = head::facts(res.headers);
            let code = res.code.unwrap_or_default();
            let mut rec = Http::default();
            if (100..200).contains(&code) && code != 101 {
                rec.info_code = i32::from(code);
                rec.info_msg = head::text(res.reason.unwrap_or_default().as_bytes());
            } else {
                head::fill_response(&mut rec, res, &facts);
            }
            (rec, facts, code, n)
        });
        let (fields, facts, code, n) = match parsed {
            Ok(p) => p,
            Err(e) => return garbage(self, cx, &format!("bad response head ({e})")),
        };
        self.seen_http = true;
        let id = self.answered(cx, origin);
        let Some(e) = self.exchange(id) else {
            return (State::Head, Step::Advance(n));
        };
        e.rec.res_timestamp = origin.ts_ns;
        e.rec.res_packet_number = origin.number;
        if (100..200).contains(&code) && code != 101 {
            // Interim: the final response follows for the same request.
            e.rec.info_code = fields.info_code;
            e.rec.info_msg = fields.info_msg;
            return (State::Head, Step::Advance(n));
        }
        merge_response(&mut e.rec, fields);
        let tunnel = code == 101 || (e.is_connect && (200..300).contains(&code));
        let framing = if tunnel || e.is_head || code == 204 || code == 304 {
            None
        } else if facts.chunked {
            Some(Framing::Chunked(Chunk::Size))
        } else {
            match facts.length {
                Length::Valid(0) => None,
                Length::Valid(len) if !facts.transfer_encoding => Some(Framing::Length(len)),
                _ => Some(Framing::UntilEnd),
            }
        };
        if facts.length == Length::Invalid && !facts.chunked {
            cx.anomaly(dir, "http", "http_invalid_content_length", excerpt(head));
        }
        let state = match framing {
            Some(f) => {
                if let Some(e) = self.exchange(id) {
                    e.res = Res::Body;
                }
                State::Body {
                    ex: id,
                    body: Body::new(f, facts.coding, cx.meta.files_max),
                }
            }
            None => {
                if let Some(e) = self.exchange(id) {
                    e.res = Res::Done;
                }
                if tunnel {
                    // Both directions leave HTTP; a request body still coming ends here.
                    let client = std::mem::replace(&mut self.client, State::Tunnel);
                    if let State::Body { ex, body } = client {
                        self.body_done(Dir::ToServer, ex, body, true, 0, cx);
                    }
                    self.flush(cx);
                    State::Tunnel
                } else {
                    self.flush(cx);
                    State::Head
                }
            }
        };
        (state, Step::Advance(n))
    }

    /// A response head longer than [`HEAD_MAX`]: written with its status
    /// line, and skipped.
    fn response_too_long(&mut self, rest: &[u8], origin: Origin, cx: &mut Cx<'_>) -> (State, Step) {
        let window = rest.get(..HEAD_MAX).unwrap_or(rest);
        cx.anomaly(
            Dir::ToClient,
            "http",
            "http_header_too_long",
            format!(
                "response head over {HEAD_MAX} bytes: \"{}\"",
                excerpt(window)
            ),
        );
        let mut inline = [httparse::EMPTY_HEADER; HEADERS_INLINE];
        let mut res = httparse::Response::new(&mut inline);
        let _ = config().parse_response(&mut res, window);
        let (code, reason, version) = (res.code, res.reason, res.version);
        self.seen_http = true;
        let id = self.answered(cx, origin);
        if let Some(e) = self.exchange(id) {
            e.rec.status_code = i32::from(code.unwrap_or_default());
            e.rec.status_msg = head::text(reason.unwrap_or_default().as_bytes());
            e.rec.res_proto = version.map(|v| format!("HTTP/1.{v}")).unwrap_or_default();
            e.rec.res_timestamp = origin.ts_ns;
            e.rec.res_packet_number = origin.number;
            e.rec.headers_truncated = true;
            e.rec.partial = true;
            e.res = Res::Done;
        }
        self.flush(cx);
        (
            State::Resync { line_start: false },
            Step::Advance(window.len()),
        )
    }

    /// Ends direction `dir`: a body in progress ends, complete when it ran
    /// until the end of the direction and the direction closed normally.
    fn close(&mut self, dir: Dir, why: End, cx: &mut Cx<'_>) {
        let state = std::mem::replace(self.state(dir), State::Ended);
        if let State::Body { ex, body } = state {
            let complete = body.until_end() && matches!(why, End::Fin | End::Close);
            self.body_done(dir, ex, body, !complete, 0, cx);
        }
        *self.state(dir) = State::Ended;
    }
}

/// What the exchange tells of the file its body in direction `dir` is:
/// the name from Content-Disposition, else the URL's last segment; the
/// declared type and length of that message.
fn file_info(
    rec: &Http,
    dir: Dir,
    uid: String,
    missing: u64,
    truncated: bool,
    encoding: &str,
) -> crate::file::FileInfo {
    use crate::file::{header_param, media_type, url_basename};
    let (headers, origin, content_type, total) = match dir {
        Dir::ToServer => (
            &rec.request_headers,
            Origin {
                ts_ns: rec.timestamp,
                number: rec.packet_number,
            },
            &rec.req_content_type,
            rec.req_content_length,
        ),
        Dir::ToClient => (
            &rec.response_headers,
            Origin {
                ts_ns: rec.res_timestamp,
                number: rec.res_packet_number,
            },
            &rec.content_type,
            rec.res_content_length,
        ),
    };
    let disposition = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-disposition"))
        .and_then(|h| header_param(&h.value, "filename"));
    crate::file::FileInfo {
        origin,
        source: "HTTP",
        uid,
        name: disposition.unwrap_or_else(|| url_basename(&rec.url)),
        content_type: media_type(content_type),
        host: rec.host.clone(),
        to_server: dir == Dir::ToServer,
        total,
        missing,
        truncated,
        depth: rec.trans_depth,
        encoding: encoding.to_string(),
        ..Default::default()
    }
}

/// Copies the request fields parsed from a head into an exchange's record.
fn merge_request(rec: &mut Http, f: Http) {
    rec.proto = f.proto;
    rec.method = f.method;
    rec.url = f.url;
    rec.host = f.host;
    rec.user_agent = f.user_agent;
    rec.referer = f.referer;
    rec.req_cookies = f.req_cookies;
    rec.req_content_length = f.req_content_length;
    rec.req_content_type = f.req_content_type;
    rec.req_content_encoding = f.req_content_encoding;
    rec.origin = f.origin;
    rec.x_forwarded_for = f.x_forwarded_for;
    rec.username = f.username;
    rec.auth_type = f.auth_type;
    rec.request_headers = f.request_headers;
    rec.headers_truncated |= f.headers_truncated;
}

/// Copies the final response's fields parsed from a head into an exchange's record.
fn merge_response(rec: &mut Http, f: Http) {
    rec.status_code = f.status_code;
    rec.status_msg = f.status_msg;
    rec.res_proto = f.res_proto;
    rec.res_content_length = f.res_content_length;
    rec.content_type = f.content_type;
    rec.content_encoding = f.content_encoding;
    rec.transfer_encoding = f.transfer_encoding;
    rec.server = f.server;
    rec.location = f.location;
    rec.res_cookies = f.res_cookies;
    rec.response_headers = f.response_headers;
    rec.headers_truncated |= f.headers_truncated;
}

fn emit(cx: &mut Cx<'_>, e: Exchange) {
    credentials(cx, &e.rec);
    cx.emit(StreamRecord::Http(Box::new(e.rec)));
}

/// A Credentials record for an exchange whose request carried Basic or
/// Digest authorization (the Digest `response` as the password); accepted
/// when the status is 2xx or 3xx.
fn credentials(cx: &mut Cx<'_>, rec: &Http) {
    let is_auth = |h: &&netcap_schema::HttpHeader| {
        h.name.eq_ignore_ascii_case("authorization")
            || h.name.eq_ignore_ascii_case("proxy-authorization")
    };
    let Some(h) = rec.request_headers.iter().find(is_auth) else {
        return;
    };
    let Some((method, user, password)) = head::credentials(h.value.as_bytes()) else {
        return;
    };
    let login = crate::line::Login {
        origin: Origin {
            ts_ns: rec.timestamp,
            number: rec.packet_number,
        },
        user,
        password,
        notes: method.to_string(),
    };
    let reply = if rec.status_code == 0 {
        String::new()
    } else {
        rec.status_code.to_string()
    };
    login.emit("HTTP", &reply, (200..400).contains(&rec.status_code), cx);
}

/// Skips to the next point where a message starts.
fn resync(dir: Dir, rest: &[u8], line_start: bool) -> (State, Step) {
    let mut i = 0;
    let mut at_line = line_start;
    loop {
        if at_line {
            match resync_point(dir, rest.get(i..).unwrap_or_default()) {
                Probe::Yes => return (State::Head, Step::Advance(i)),
                Probe::NeedMore if i == 0 => {
                    return (
                        State::Resync { line_start: true },
                        Step::Need(rest.len() + 1),
                    )
                }
                Probe::NeedMore => return (State::Resync { line_start: true }, Step::Advance(i)),
                Probe::No => {}
            }
        }
        match rest
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            Some(j) => {
                i += j + 1;
                at_line = true;
            }
            None => {
                return (
                    State::Resync { line_start: false },
                    Step::Advance(rest.len()),
                )
            }
        }
    }
}

impl StreamParser for HttpParser {
    fn name(&self) -> &'static str {
        "HTTP"
    }

    fn memory(&self) -> usize {
        // A record's encoded length stands for the heap of its strings and
        // header lists.
        let exchanges: usize = self
            .pending
            .iter()
            .map(|e| 64 + prost::Message::encoded_len(&e.rec))
            .sum();
        let body = |s: &State| match s {
            State::Body { body, .. } => body.memory(),
            _ => 0,
        };
        self.pending.capacity() * std::mem::size_of::<Exchange>()
            + exchanges
            + body(&self.client)
            + body(&self.server)
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        let mut pos = 0;
        let mut stalls = 0;
        while let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) {
            match self.step(dir, rest, pos, cx)? {
                Step::Advance(0) => {
                    // Each zero step changes the state; a chain of them would be a bug,
                    // and skipping to the next line always moves on.
                    stalls += 1;
                    if stalls > 8 {
                        *self.state(dir) = State::Resync { line_start: false };
                    }
                }
                Step::Advance(n) => {
                    pos += n;
                    stalls = 0;
                }
                Step::Need(n) => return Ok(Parsed::need(pos, n)),
            }
        }
        Ok(Parsed::all(input))
    }

    fn gap(&mut self, dir: Dir, len: u64, cx: &mut Cx<'_>) {
        if dir == Dir::ToServer {
            self.client_disturbed = true;
        }
        let state = std::mem::take(self.state(dir));
        let next = match state {
            State::Body { ex, mut body } => {
                if body.skip(len) {
                    State::Body { ex, body }
                } else {
                    self.body_done(dir, ex, body, true, len, cx);
                    // A message may start right after the hole.
                    State::Resync { line_start: true }
                }
            }
            State::Head | State::Resync { .. } => State::Resync { line_start: true },
            s @ (State::Tunnel | State::Ended) => s,
        };
        *self.state(dir) = next;
    }

    fn end(&mut self, dir: Dir, why: End, cx: &mut Cx<'_>) {
        self.close(dir, why, cx);
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.close(Dir::ToServer, End::Close, cx);
        self.close(Dir::ToClient, End::Close, cx);
        while let Some(e) = self.pending.pop_front() {
            emit(cx, e);
        }
    }
}
