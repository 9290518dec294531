//! TLS over TCP (placeholder: being written).

use crate::parser::{Cx, Dir, ParseError, Parsed, Probe, Protocol, StreamParser};

/// The TLS stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "TLS",
    ports: &[443, 465, 563, 636, 853, 993, 995, 8443],
    probe,
    new: || Box::new(TlsParser::default()),
};

fn probe(_dir: Dir, _data: &[u8], _port_hint: bool) -> Probe {
    Probe::No
}

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct TlsParser {}

impl StreamParser for TlsParser {
    fn name(&self) -> &'static str {
        "TLS"
    }
    fn parse(&mut self, _dir: Dir, input: &[u8], _cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        Ok(Parsed::all(input))
    }
    fn gap(&mut self, _dir: Dir, _len: u64, _cx: &mut Cx<'_>) {}
    fn finish(&mut self, _cx: &mut Cx<'_>) {}
}
