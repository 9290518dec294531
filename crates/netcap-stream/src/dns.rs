//! DNS over TCP (placeholder: being written).

use crate::parser::{Cx, Dir, ParseError, Parsed, Probe, Protocol, StreamParser};

/// The DNS stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "DNS",
    ports: &[53, 5353, 5355],
    probe,
    new: || Box::new(DnsParser::default()),
};

fn probe(_dir: Dir, _data: &[u8], _port_hint: bool) -> Probe {
    Probe::No
}

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct DnsParser {}

impl StreamParser for DnsParser {
    fn name(&self) -> &'static str {
        "DNS"
    }
    fn parse(&mut self, _dir: Dir, input: &[u8], _cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        Ok(Parsed::all(input))
    }
    fn gap(&mut self, _dir: Dir, _len: u64, _cx: &mut Cx<'_>) {}
    fn finish(&mut self, _cx: &mut Cx<'_>) {}
}
