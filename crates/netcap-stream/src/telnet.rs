//! Telnet (RFC 854): commands start with IAC (255); WILL, WONT, DO and DONT
//! (251–254) take an option byte, SB (250) opens a subnegotiation closed by
//! IAC SE (240), IAC IAC is a data byte 255, the other commands (NOP, AYT,
//! ...) are two bytes. Everything else is the session's text. One
//! [`Telnet`] record per connection, written when it ends, holds both
//! sides' negotiation, the terminal type and window size the client
//! announced, and the text as lines per direction; a user name and
//! password typed after `login:` and `Password:` prompts give a Credentials
//! record, accepted unless the server's next words say the login failed.
//!
//! The parser keeps a byte-level state across calls (a command may straddle
//! segments) and never asks the engine to keep input. Limits: lines of at
//! most [`MAX_LINE`] bytes, [`MAX_LINES`] lines and [`MAX_OPTIONS`]
//! negotiations per direction, subnegotiations of at most [`MAX_SUB`]
//! bytes; past them bytes are counted and the record says `Truncated`.

use netcap_schema::Telnet;

use crate::line::creds::Login;
use crate::parser::{Cx, Dir, Origin, ParseError, Parsed, Probe, Protocol, StreamParser};
use crate::records::StreamRecord;

/// The Telnet stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "Telnet",
    ports: &[23, 2323],
    probe,
    new: || Box::new(TelnetParser::default()),
};

/// Longest line kept, in bytes (longer lines are cut).
pub const MAX_LINE: usize = 1024;
/// Lines kept per direction.
pub const MAX_LINES: usize = 1000;
/// Negotiations kept per direction.
pub const MAX_OPTIONS: usize = 128;
/// Longest subnegotiation read.
pub const MAX_SUB: usize = 512;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;
const TERMINAL_TYPE: u8 = 24;
const NAWS: u8 = 31;

/// Recognised by a negotiation at the start of a direction (what every
/// Telnet server and client begins with); on a Telnet port also by text,
/// which is how devices that negotiate nothing open with a banner or a
/// `login:` prompt.
fn probe(_dir: Dir, data: &[u8], port_hint: bool) -> Probe {
    match data {
        [] => Probe::NeedMore,
        [IAC] => Probe::NeedMore,
        [IAC, c, ..] if (SB..=DONT).contains(c) => Probe::Yes,
        [IAC, ..] => Probe::No,
        _ if port_hint => {
            let n = data.len().min(64);
            let text = data.iter().take(n).all(|&b| {
                b == b'\r' || b == b'\n' || b == b'\t' || b == 0 || (0x20..0x7f).contains(&b)
            });
            if text {
                Probe::Yes
            } else {
                Probe::No
            }
        }
        _ => Probe::No,
    }
}

/// The name of a Telnet option (IANA registry), or its number.
pub fn option_name(code: u8) -> String {
    let name = match code {
        0 => "BINARY",
        1 => "ECHO",
        3 => "SUPPRESS-GO-AHEAD",
        5 => "STATUS",
        6 => "TIMING-MARK",
        24 => "TERMINAL-TYPE",
        25 => "END-OF-RECORD",
        31 => "NAWS",
        32 => "TERMINAL-SPEED",
        33 => "REMOTE-FLOW-CONTROL",
        34 => "LINEMODE",
        35 => "X-DISPLAY-LOCATION",
        36 => "OLD-ENVIRON",
        37 => "AUTHENTICATION",
        38 => "ENCRYPT",
        39 => "NEW-ENVIRON",
        46 => "START-TLS",
        _ => return code.to_string(),
    };
    name.to_string()
}

/// The verb of a negotiation command.
fn verb(cmd: u8) -> &'static str {
    match cmd {
        251 => "WILL",
        252 => "WONT",
        253 => "DO",
        _ => "DONT",
    }
}

/// Where a direction's byte-level reader is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After IAC.
    Iac,
    /// After IAC and a negotiation verb: the option byte comes.
    Option(u8),
    /// Inside SB ... IAC SE.
    Sub,
    /// IAC inside a subnegotiation.
    SubIac,
    /// After a CR: LF or NUL completes the line end.
    Cr,
}

/// One direction.
#[derive(Debug, Default)]
struct Side {
    state: State,
    options: Vec<String>,
    lines: Vec<String>,
    line: Vec<u8>,
    /// The packet of the current line's first byte.
    line_origin: Option<Origin>,
    sub: Vec<u8>,
    bytes: u64,
    truncated: bool,
}

impl Side {
    fn memory(&self) -> usize {
        self.options.iter().map(String::capacity).sum::<usize>()
            + self.lines.iter().map(String::capacity).sum::<usize>()
            + self.line.capacity()
            + self.sub.capacity()
    }

    fn data(&mut self, b: u8, origin: Origin, client: bool) {
        self.bytes += 1;
        if self.line.is_empty() && self.line_origin.is_none() {
            self.line_origin = Some(origin);
        }
        // What a user effectively typed: backspace and DEL erase.
        if client && (b == 0x08 || b == 0x7f) {
            self.line.pop();
            return;
        }
        if self.line.len() < MAX_LINE {
            self.line.push(b);
        } else {
            self.truncated = true;
        }
    }

    /// Ends the current line (`at`: the packet of its line end; None at the
    /// end of the stream, when only a started line counts); returns it.
    fn end_line(&mut self, at: Option<Origin>) -> Option<(String, Origin)> {
        let origin = self.line_origin.take().or(at)?;
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if self.lines.len() < MAX_LINES {
            self.lines.push(text.clone());
        } else {
            self.truncated = true;
        }
        Some((text, origin))
    }
}

/// What the server's prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    User,
    Password,
}

/// Telnet parser state of one connection.
#[derive(Debug, Default)]
pub struct TelnetParser {
    client: Side,
    server: Side,
    first: Option<Origin>,
    terminal_type: String,
    window: (i32, i32),
    /// The prompt the server's text ended with last.
    prompt: Option<Prompt>,
    user: Option<(String, Origin)>,
    /// A login waiting for the server's verdict.
    login: Option<Login>,
    /// The user of the last login the server answered.
    login_user: String,
    accepted: bool,
    partial: bool,
    written: bool,
}

impl TelnetParser {
    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }

    fn feed(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) {
        let client = dir == Dir::ToServer;
        for (i, &b) in input.iter().enumerate() {
            let state = self.side(dir).state;
            let next = match (state, b) {
                (State::Data | State::Cr, IAC) => State::Iac,
                (State::Cr, b'\n' | 0) => State::Data,
                // NUL is the NVT's no-operation (RFC 854), not text.
                (State::Data, 0) => State::Data,
                (State::Data | State::Cr, b'\r') => {
                    self.line_end(dir, i, cx);
                    State::Cr
                }
                (State::Data, b'\n') => {
                    self.line_end(dir, i, cx);
                    State::Data
                }
                (State::Data | State::Cr, _) => {
                    self.side(dir).data(b, cx.origin(i), client);
                    State::Data
                }
                (State::Iac, IAC) => {
                    self.side(dir).data(IAC, cx.origin(i), client);
                    State::Data
                }
                (State::Iac, SB) => {
                    self.side(dir).sub.clear();
                    State::Sub
                }
                (State::Iac, c) if (WILL..=DONT).contains(&c) => State::Option(c),
                // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, or a stray SE.
                (State::Iac, _) => State::Data,
                (State::Option(c), opt) => {
                    let side = self.side(dir);
                    if side.options.len() < MAX_OPTIONS {
                        side.options
                            .push(format!("{} {}", verb(c), option_name(opt)));
                    } else {
                        side.truncated = true;
                    }
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => {
                    self.sub_byte(dir, b);
                    State::Sub
                }
                (State::SubIac, SE) => {
                    if client {
                        self.subnegotiation();
                    }
                    State::Data
                }
                (State::SubIac, IAC) => {
                    self.sub_byte(dir, IAC);
                    State::Sub
                }
                // IAC and anything else inside SB: a broken subnegotiation;
                // RFC 854 has no other meaning for it.
                (State::SubIac, _) => State::Sub,
            };
            self.side(dir).state = next;
        }
        if !client && self.server.line_origin.is_some() {
            // The prompt a login waits at is not followed by a line end.
            if let Some(p) = prompt(&self.server.line) {
                self.prompt = Some(p);
            }
        }
    }

    fn sub_byte(&mut self, dir: Dir, b: u8) {
        let side = self.side(dir);
        if side.sub.len() < MAX_SUB {
            side.sub.push(b);
        } else {
            side.truncated = true;
        }
    }

    /// The client's TERMINAL-TYPE IS and NAWS.
    fn subnegotiation(&mut self) {
        match self.client.sub.as_slice() {
            [TERMINAL_TYPE, 0, name @ ..] => {
                self.terminal_type = String::from_utf8_lossy(name).into_owned();
            }
            [NAWS, w1, w0, h1, h0] => {
                self.window = (
                    i32::from(u16::from_be_bytes([*w1, *w0])),
                    i32::from(u16::from_be_bytes([*h1, *h0])),
                );
            }
            _ => {}
        }
    }

    fn line_end(&mut self, dir: Dir, at: usize, cx: &mut Cx<'_>) {
        let Some((text, origin)) = self.side(dir).end_line(Some(cx.origin(at))) else {
            return;
        };
        match dir {
            Dir::ToServer => self.typed(text, origin),
            Dir::ToClient => self.server_said(&text, cx),
        }
    }

    /// A line the client typed, answering the last prompt.
    fn typed(&mut self, text: String, origin: Origin) {
        match self.prompt.take() {
            Some(Prompt::User) => self.user = Some((text, origin)),
            Some(Prompt::Password) => {
                let (user, origin) = self.user.take().unwrap_or((String::new(), origin));
                self.login = Some(Login {
                    origin,
                    user,
                    password: text,
                    notes: "login prompt".to_string(),
                });
            }
            None => {}
        }
    }

    /// A complete line of the server: the verdict on a pending login, or a
    /// prompt.
    fn server_said(&mut self, text: &str, cx: &mut Cx<'_>) {
        let p = prompt(text.as_bytes());
        if self.login.is_none() {
            if p.is_some() {
                self.prompt = p;
            }
            return;
        }
        let words = text.trim();
        // The password prompt's own line, ended once the password was typed.
        if words.is_empty() || p == Some(Prompt::Password) {
            return;
        }
        let lower = words.to_ascii_lowercase();
        let refused = p == Some(Prompt::User)
            || ["incorrect", "failed", "denied", "invalid", "bad password"]
                .iter()
                .any(|w| lower.contains(w));
        if p.is_some() {
            self.prompt = p;
        }
        self.decide(words, !refused, cx);
    }

    /// Writes the pending login's Credentials record.
    fn decide(&mut self, reply: &str, accepted: bool, cx: &mut Cx<'_>) {
        if let Some(login) = self.login.take() {
            self.login_user = login.user.clone();
            self.accepted |= accepted;
            login.emit("Telnet", reply, accepted, cx);
        }
    }

    /// The record of the connection.
    fn record(&mut self, cx: &Cx<'_>) -> Telnet {
        let m = cx.meta;
        let first = self.first.unwrap_or(cx.now);
        Telnet {
            timestamp: first.ts_ns,
            packet_number: first.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            client_options: std::mem::take(&mut self.client.options),
            server_options: std::mem::take(&mut self.server.options),
            terminal_type: self.terminal_type.clone(),
            window_width: self.window.0,
            window_height: self.window.1,
            client_lines: std::mem::take(&mut self.client.lines),
            server_lines: std::mem::take(&mut self.server.lines),
            client_bytes: i64::try_from(self.client.bytes).unwrap_or(i64::MAX),
            server_bytes: i64::try_from(self.server.bytes).unwrap_or(i64::MAX),
            user: self.login_user.clone(),
            login_accepted: self.accepted,
            truncated: self.client.truncated || self.server.truncated,
            partial: self.partial,
            ..Telnet::default()
        }
    }
}

/// What a line (or the unterminated text a server waits after) asks for.
fn prompt(line: &[u8]) -> Option<Prompt> {
    // Runs after every server segment: compare in place, no lower-case copy.
    let t = line.trim_ascii_end();
    let ends = |word: &[u8]| {
        t.len() >= word.len()
            && t.get(t.len() - word.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(word))
    };
    if ends(b"password:") || ends(b"passcode:") {
        Some(Prompt::Password)
    } else if ends(b"login:") || ends(b"username:") || ends(b"user:") {
        Some(Prompt::User)
    } else {
        None
    }
}

impl StreamParser for TelnetParser {
    fn name(&self) -> &'static str {
        "Telnet"
    }

    fn memory(&self) -> usize {
        self.client.memory()
            + self.server.memory()
            + self.terminal_type.capacity()
            + self.login_user.capacity()
            + self.user.as_ref().map_or(0, |(u, _)| u.capacity())
            + self.login.as_ref().map_or(0, Login::memory)
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        if input.is_empty() {
            return Ok(Parsed::all(input));
        }
        if self.first.is_none() {
            self.first = Some(cx.origin(0));
        }
        self.feed(dir, input, cx);
        Ok(Parsed::all(input))
    }

    fn gap(&mut self, dir: Dir, _len: u64, _cx: &mut Cx<'_>) {
        // A command or line cut by the hole is dropped; text goes on.
        self.partial = true;
        let side = self.side(dir);
        side.state = State::Data;
        side.line.clear();
        side.line_origin = None;
        if dir == Dir::ToServer {
            self.prompt = None;
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if self.written || self.first.is_none() {
            return;
        }
        self.written = true;
        // The unterminated last lines: a prompt, a command cut by the end.
        self.client.end_line(None);
        if let Some((text, _)) = self.server.end_line(None) {
            if self.login.is_some() && prompt(text.as_bytes()) == Some(Prompt::User) {
                self.decide(text.trim(), false, cx);
            }
        }
        // A login the server never answered.
        self.decide("", false, cx);
        let rec = self.record(cx);
        cx.emit(StreamRecord::Telnet(Box::new(rec)));
    }
}

#[cfg(test)]
mod tests;
