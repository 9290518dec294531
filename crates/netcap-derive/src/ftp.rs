//! FTP data connections linked to the control connection's commands
//! ([`FtpData`]: Zeek's ftp.log `data_channel` and `fuid`, Suricata's
//! `ftp_data` event).
//!
//! The FTP record of PORT or EPRT (accepted with a 2xx) or of PASV or EPSV
//! (answered 227 or 229) announces an endpoint: the address and port the
//! data connection will be opened to. A transfer command (RETR, STOR, STOU,
//! APPE, LIST, NLST, MLSD) names the endpoint it uses. The data connection is
//! the next connection to that endpoint that starts after the announcement,
//! whoever opens it (the client for PASV, the server for PORT). Control and
//! data connections may be on different workers and their records come in
//! any order: the link is made here, on the writer thread, when the
//! announcement, the data connection's Connection record and the transfer
//! command have all been seen (the command may come before or after the
//! Connection record); at the end of the input, data connections without a
//! command are written with an empty one.
//!
//! A server may hand out the same endpoint again, and Connection records
//! come when the flow ends (often at its idle timeout), after later
//! announcements: each announcement waits on its own, and a connection
//! belongs to the last announcement of its endpoint before it started, a
//! command to its session's last announcement before it.
//!
//! Announcements wait in a table bounded by
//! [`Limits::ftp_channels`](crate::Limits): when it is full the oldest is
//! forgotten (written if its data connection was seen, else counted).
//! Announcements never used (a refused transfer) are forgotten at the end
//! of the input.

use std::collections::{BTreeSet, HashMap};

use netcap_schema::{Ftp, FtpData};

use crate::ConnSeen;

/// An FTP command that announced a data endpoint, or a transfer command
/// that used one.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FtpSeen {
    /// Packet of the command.
    pub number: u64,
    /// Packet that announced the endpoint: the 227 or 229 reply to PASV or
    /// EPSV, the command itself for PORT and EPRT (tshark's
    /// `ftp-data.setup-frame`); the command's for a transfer.
    pub announced: u64,
    /// Time of the command.
    pub ts: i64,
    /// UID of the control connection.
    pub uid: String,
    /// The command verb, upper case.
    pub verb: String,
    /// The file name of a transfer command.
    pub file: String,
    /// "download" or "upload" for a transfer command; empty for an
    /// announcement.
    pub direction: String,
    /// The data endpoint: address and port.
    pub endpoint: (String, i32),
    /// Announced by PASV or EPSV: the server listens.
    pub passive: bool,
    /// Final reply code (0: none seen).
    pub reply_code: i32,
    /// Preliminary (1xx) reply code.
    pub info_code: i32,
    /// User name of the session.
    pub user: String,
}

/// The sighting of an FTP record that announces or uses a data endpoint.
pub fn seen(f: &Ftp) -> Option<FtpSeen> {
    if f.data_ip.is_empty() || f.data_port == 0 {
        return None;
    }
    let verb = f.command.to_ascii_uppercase();
    let announces = match verb.as_str() {
        // The parser takes the endpoint from the command: only an accepted
        // one is used.
        "PORT" | "EPRT" => (200..300).contains(&f.reply_code),
        // The parser takes the endpoint from the 227 or 229 reply.
        "PASV" | "EPSV" => true,
        _ => false,
    };
    if !announces && f.file_direction.is_empty() {
        return None;
    }
    let passive_reply = announces && f.data_passive && f.reply_packet_number != 0;
    Some(FtpSeen {
        number: f.packet_number,
        announced: if passive_reply {
            f.reply_packet_number
        } else {
            f.packet_number
        },
        ts: f.timestamp,
        uid: f.connection_uid.clone(),
        verb,
        file: f.file_name.clone(),
        direction: f.file_direction.clone(),
        endpoint: (f.data_ip.clone(), f.data_port),
        passive: f.data_passive,
        reply_code: f.reply_code,
        info_code: f.info_code,
        user: f.user.clone(),
    })
}

/// An announced endpoint and what was seen of its use.
#[derive(Debug)]
struct Channel {
    setup: FtpSeen,
    transfer: Option<FtpSeen>,
    conn: Option<ConnSeen>,
}

/// Address and port of a data endpoint.
type Endpoint = (String, i32);

/// The announced endpoints waiting for their data connection or command.
#[derive(Debug)]
pub(crate) struct Links {
    limit: usize,
    /// Per endpoint, its announcements by packet: a server may hand out
    /// the same port again, and Connection records come late (when the
    /// flow times out), after later announcements of the same endpoint.
    channels: HashMap<Endpoint, Vec<Channel>>,
    /// Every announcement by its packet, oldest first.
    order: BTreeSet<(u64, Endpoint)>,
    evicted: u64,
}

impl Default for Links {
    fn default() -> Self {
        Links::new(crate::Limits::default().ftp_channels)
    }
}

impl Links {
    /// An empty table of at most `limit` announcements.
    pub(crate) fn new(limit: usize) -> Self {
        Links {
            limit,
            channels: HashMap::new(),
            order: BTreeSet::new(),
            evicted: 0,
        }
    }

    /// Announcements forgotten before their data connection was seen.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// An announcement or a transfer command.
    pub(crate) fn command(&mut self, f: &FtpSeen, out: &mut Vec<FtpData>) {
        if f.direction.is_empty() {
            self.announce(f, out);
        } else {
            self.transfer(f, out);
        }
    }

    fn announce(&mut self, f: &FtpSeen, out: &mut Vec<FtpData>) {
        if self.order.contains(&(f.announced, f.endpoint.clone())) {
            return;
        }
        while self.order.len() >= self.limit.max(1) {
            let Some((at, key)) = self.order.first().cloned() else {
                break;
            };
            if !self.remove(&key, at, out) {
                self.evicted += 1;
            }
        }
        if self.limit == 0 {
            self.evicted += 1;
            return;
        }
        self.order.insert((f.announced, f.endpoint.clone()));
        let list = self.channels.entry(f.endpoint.clone()).or_default();
        let at = list.partition_point(|c| c.setup.announced < f.announced);
        list.insert(
            at,
            Channel {
                setup: f.clone(),
                transfer: None,
                conn: None,
            },
        );
    }

    fn transfer(&mut self, f: &FtpSeen, out: &mut Vec<FtpData>) {
        // A command refused before any data connection (550 without a 150)
        // did not use the endpoint: a later one will.
        let used = f.info_code / 100 == 1 || f.reply_code / 100 == 2 || f.reply_code == 0;
        if !used {
            return;
        }
        // The session's last announcement of the endpoint before the
        // command; a command that reuses an endpoint already used gets
        // nothing.
        let Some(ch) = self.channels.get_mut(&f.endpoint).and_then(|list| {
            list.iter_mut()
                .rev()
                .find(|c| c.setup.uid == f.uid && c.setup.number <= f.number)
        }) else {
            return;
        };
        if ch.transfer.is_some() {
            return;
        }
        ch.transfer = Some(f.clone());
        if ch.conn.is_some() {
            let at = ch.setup.announced;
            self.remove(&f.endpoint, at, out);
        }
    }

    /// A connection ended: the data connection of the last announcement of
    /// its endpoint before it started, when that one has none yet.
    pub(crate) fn connection(&mut self, c: &ConnSeen, out: &mut Vec<FtpData>) {
        if c.server.2 != "TCP" {
            return;
        }
        let key = (c.server.0.clone(), c.server.1);
        let Some(ch) = self.channels.get_mut(&key).and_then(|list| {
            list.iter_mut()
                .rev()
                .find(|ch| ch.setup.announced < c.first_number)
        }) else {
            return;
        };
        if ch.conn.is_some() {
            return;
        }
        ch.conn = Some(c.clone());
        if ch.transfer.is_some() {
            let at = ch.setup.announced;
            self.remove(&key, at, out);
        }
    }

    /// Writes the data connections still waiting for a command.
    pub(crate) fn finish(&mut self, out: &mut Vec<FtpData>) {
        for (at, key) in std::mem::take(&mut self.order) {
            self.remove(&key, at, out);
        }
        self.channels.clear();
    }

    /// Forgets the announcement of `key` at packet `at`, writing its record
    /// if its data connection was seen; returns whether it was.
    fn remove(&mut self, key: &Endpoint, at: u64, out: &mut Vec<FtpData>) -> bool {
        self.order.remove(&(at, key.clone()));
        let Some(list) = self.channels.get_mut(key) else {
            return false;
        };
        let Some(i) = list.iter().position(|c| c.setup.announced == at) else {
            return false;
        };
        let ch = list.remove(i);
        if list.is_empty() {
            self.channels.remove(key);
        }
        match ch.conn {
            Some(conn) => {
                out.push(record(&ch.setup, ch.transfer.as_ref(), &conn));
                true
            }
            None => false,
        }
    }
}

/// The record of a linked data connection.
fn record(setup: &FtpSeen, transfer: Option<&FtpSeen>, c: &ConnSeen) -> FtpData {
    // The FTP server opened the data connection for PORT and EPRT, the
    // client for PASV and EPSV.
    let from_ftp_server = if setup.passive {
        (c.stream_server, c.missed_server)
    } else {
        (c.stream_client, c.missed_client)
    };
    let to_ftp_server = if setup.passive {
        (c.stream_client, c.missed_client)
    } else {
        (c.stream_server, c.missed_server)
    };
    let (size, missed) = match transfer.map(|t| t.direction.as_str()) {
        Some("download") => from_ftp_server,
        Some("upload") => to_ftp_server,
        _ => (
            c.stream_client.saturating_add(c.stream_server),
            c.missed_client.saturating_add(c.missed_server),
        ),
    };
    let t = transfer.cloned().unwrap_or_default();
    FtpData {
        timestamp: c.first_ts,
        packet_number: c.first_number,
        connection_uid: c.uid.clone(),
        control_uid: setup.uid.clone(),
        src_ip: c.client.0.clone(),
        src_port: c.client.1,
        dst_ip: c.server.0.clone(),
        dst_port: c.server.1,
        passive: setup.passive,
        setup_command: setup.verb.clone(),
        setup_packet_number: setup.announced,
        command: t.verb,
        file_name: t.file,
        file_direction: t.direction,
        reply_code: t.reply_code,
        command_packet_number: t.number,
        user: if t.user.is_empty() {
            setup.user.clone()
        } else {
            t.user
        },
        size,
        missed_bytes: missed,
        timestamp_last: c.last_ts,
        ..Default::default()
    }
}

/// Directory listings: their data connection carries no file of the
/// server's, so their File has no `Name`.
const LISTINGS: [&str; 3] = ["LIST", "NLST", "MLSD"];

/// The File records of FTP data connections (`Source` FTP), waiting for
/// their connection's [`FtpData`] link to learn their name and command.
///
/// A data connection's File comes with its end (the direction's FIN or the
/// connection's end), so in the batch of its Connection record or before:
/// it waits here until the transfer command is linked too, and at the end
/// of the input goes out as it is. At most `limit` wait: past that the
/// oldest goes out without a name (counted).
#[derive(Debug)]
pub(crate) struct Files {
    limit: usize,
    waiting: HashMap<String, Vec<netcap_schema::File>>,
    /// Connection UIDs in arrival order (a UID once per File).
    order: std::collections::VecDeque<String>,
    held: usize,
    /// Files that went out unnamed because the table was full.
    pub(crate) unlinked: u64,
}

impl Default for Files {
    fn default() -> Self {
        Files::new(crate::Limits::default().ftp_channels)
    }
}

impl Files {
    /// An empty table of at most `limit` files.
    pub(crate) fn new(limit: usize) -> Self {
        Files {
            limit,
            waiting: HashMap::new(),
            order: std::collections::VecDeque::new(),
            held: 0,
            unlinked: 0,
        }
    }

    /// A data connection's File.
    pub(crate) fn file(&mut self, f: &netcap_schema::File, out: &mut Vec<netcap_schema::File>) {
        while self.held >= self.limit.max(1) {
            let Some(uid) = self.order.pop_front() else {
                break;
            };
            let Some(list) = self.waiting.get_mut(&uid) else {
                continue;
            };
            if !list.is_empty() {
                out.push(list.remove(0));
                self.held -= 1;
                self.unlinked += 1;
            }
            if list.is_empty() {
                self.waiting.remove(&uid);
            }
        }
        if self.limit == 0 {
            self.unlinked += 1;
            out.push(f.clone());
            return;
        }
        // UIDs of Files already linked stay in the queue: dropped in bulk
        // once they are as many as the bound.
        if self.order.len() >= 2 * self.limit {
            let waiting = &self.waiting;
            self.order.retain(|u| waiting.contains_key(u));
        }
        self.order.push_back(f.connection_uid.clone());
        self.waiting
            .entry(f.connection_uid.clone())
            .or_default()
            .push(f.clone());
        self.held += 1;
    }

    /// A data connection was linked to its command: its Files go out named.
    pub(crate) fn linked(&mut self, d: &FtpData, out: &mut Vec<netcap_schema::File>) {
        let Some(list) = self.waiting.remove(&d.connection_uid) else {
            return;
        };
        self.held = self.held.saturating_sub(list.len());
        let command = d.command.to_ascii_uppercase();
        let listing = LISTINGS.contains(&command.as_str());
        for mut f in list {
            // For PORT and EPRT the FTP server opened the data connection
            // (its client), for PASV and EPSV the FTP client did.
            let from_ftp_server = if d.passive { !f.to_server } else { f.to_server };
            let expected = match d.file_direction.as_str() {
                "download" => Some(true),
                "upload" => Some(false),
                _ => None,
            };
            if !listing && expected == Some(from_ftp_server) {
                f.name.clone_from(&d.file_name);
            }
            f.command.clone_from(&command);
            out.push(f);
        }
    }

    /// Entries in the arrival queue (stale ones included).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.order.len()
    }

    /// The end of the input: every File still waiting, in arrival order.
    pub(crate) fn finish(&mut self, out: &mut Vec<netcap_schema::File>) {
        while let Some(uid) = self.order.pop_front() {
            if let Some(list) = self.waiting.get_mut(&uid) {
                if !list.is_empty() {
                    out.push(list.remove(0));
                }
                if list.is_empty() {
                    self.waiting.remove(&uid);
                }
            }
        }
        self.held = 0;
    }
}
