//! HTTP/1.0 and 1.1 over TCP (placeholder: being written).

use crate::parser::{Cx, Dir, ParseError, Parsed, Probe, Protocol, StreamParser};

/// The HTTP stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "HTTP",
    ports: &[80, 81, 8000, 8008, 8080, 8888, 3128],
    probe,
    new: || Box::new(HttpParser::default()),
};

fn probe(_dir: Dir, _data: &[u8], _port_hint: bool) -> Probe {
    Probe::No
}

/// Parser state of one connection.
#[derive(Debug, Default)]
pub struct HttpParser {}

impl StreamParser for HttpParser {
    fn name(&self) -> &'static str {
        "HTTP"
    }
    fn parse(&mut self, _dir: Dir, input: &[u8], _cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        Ok(Parsed::all(input))
    }
    fn gap(&mut self, _dir: Dir, _len: u64, _cx: &mut Cx<'_>) {}
    fn finish(&mut self, _cx: &mut Cx<'_>) {}
}
