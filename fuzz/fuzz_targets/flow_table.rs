//! The connection and layer-flow tables: a sequence of packets (each: 2-byte
//! time step that may go backwards, 1-byte length, bytes of an Ethernet frame)
//! through packet extraction, the tables, batch-end expiry and eviction, and
//! the final flush.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_flow::{
    DecodedApp, FlowConfig, FlowPacket, FlowSink, FlowTable, LayerFlowTable, LayerObs, LayerSelect,
};
use netcap_schema::Record;

struct Encode(Vec<u8>);

impl FlowSink for Encode {
    fn emit_keyed<R: Record>(&mut self, _key: u64, rec: &R) {
        self.0.clear();
        let _ = rec.encode_length_delimited(&mut self.0);
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = FlowConfig {
        idle_timeout_ns: 5_000_000,
        active_timeout_ns: 50_000_000,
        linger_ns: 1_000_000,
        max_flows: 64,
        max_layer_flows: 16,
        first_packets: 4,
    };
    let mut table = FlowTable::new(cfg);
    let all = LayerSelect {
        link: true,
        network: true,
        transport: true,
    };
    let mut layers = LayerFlowTable::new(cfg, all);
    let mut sink = Encode(Vec::new());
    let mut ts: i64 = 1_600_000_000_000_000_000;
    let mut rest = data;
    let mut number = 0u64;
    while let [a, b, len, tail @ ..] = rest {
        let step = i64::from(i16::from_be_bytes([*a, *b])) * 100_000;
        ts = ts.saturating_add(step);
        let n = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        number += 1;
        if let Some(mut p) =
            FlowPacket::extract(number, ts, 1, u32::try_from(n).unwrap_or(0), frame)
        {
            p.app = (*len % 3 == 0).then_some(DecodedApp::Dns);
            table.packet(&p);
            layers.packet(&LayerObs::of(&p));
        }
        if number % 8 == 0 {
            table.end_batch(ts, number, &mut sink);
            layers.end_batch(ts, number, &mut sink);
            if table.len() > 64 {
                table.evict_idle(0);
            }
        }
    }
    table.finish(number, &mut sink);
    layers.finish(number, &mut sink);
});
