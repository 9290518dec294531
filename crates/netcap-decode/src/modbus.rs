//! Modbus/TCP (Modbus Application Protocol over TCP/IP, port 502): the MBAP
//! header and the PDU's function code, exception and common fields.
//!
//! Each segment is decoded on its own (no reassembly): every complete or
//! partial application data unit (ADU) it starts gets a record.

use netcap_schema::Modbus;

use crate::util::{be16, clamp, u8_at};
use crate::{need, DecodeError, Outcome, PacketInfo, RecordSink};

/// Record type name used in errors.
const LAYER: &str = "Modbus";

/// Registered TCP port.
pub const PORT: u16 = 502;

/// Length of the MBAP header (unit ID included).
pub const MBAP_LEN: usize = 7;

/// Most ADUs decoded from one segment (each is at least 8 bytes).
pub const MAX_ADUS: usize = 1024;

/// A zero-copy view of one Modbus/TCP ADU.
#[derive(Debug, Clone, Copy)]
pub struct ModbusView<'a> {
    buf: &'a [u8],
}

impl<'a> ModbusView<'a> {
    /// Wraps the start of `buf`, checking that the MBAP header and function
    /// code are present and that the length field counts at least the unit
    /// ID and function code.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, MBAP_LEN + 1)?;
        if be16(buf, 4) < 2 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "length",
            });
        }
        Ok(Self { buf })
    }

    /// Transaction identifier.
    pub fn transaction_id(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Protocol identifier (0 for Modbus).
    pub fn protocol_id(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Length field: bytes after it (unit ID and PDU).
    pub fn len(&self) -> u16 {
        be16(self.buf, 4)
    }

    /// Whether the PDU is empty (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.len() < 2
    }

    /// Unit identifier.
    pub fn unit_id(&self) -> u8 {
        u8_at(self.buf, 6)
    }

    /// Function code byte (exception bit included).
    pub fn function(&self) -> u8 {
        u8_at(self.buf, 7)
    }

    /// Captured PDU bytes after the function code.
    pub fn data(&self) -> &'a [u8] {
        clamp(self.buf, MBAP_LEN + 1, 6 + usize::from(self.len()))
    }

    /// Bytes of the segment after this ADU.
    pub fn rest(&self) -> &'a [u8] {
        clamp(self.buf, 6 + usize::from(self.len()), self.buf.len())
    }
}

/// Builds the `Modbus` record of `view`; `request` tells whether it goes to
/// the server port (requests and responses lay out their fields differently).
pub fn record(view: &ModbusView<'_>, request: bool, pkt: &PacketInfo<'_>) -> Modbus {
    let f = view.function();
    let d = view.data();
    let mut r = Modbus {
        timestamp: pkt.ts_ns,
        transaction_id: i32::from(view.transaction_id()),
        protocol_id: i32::from(view.protocol_id()),
        length: i32::from(view.len()),
        unit_id: i32::from(view.unit_id()),
        function_code: i32::from(f & 0x7f),
        exception: f & 0x80 != 0,
        payload: d.to_vec(),
        packet_number: pkt.number,
        request,
        ..Default::default()
    };
    if r.exception {
        r.exception_code = i32::from(u8_at(d, 0));
        return r;
    }
    let addr_qty = |r: &mut Modbus| {
        r.starting_address = i32::from(be16(d, 0));
        r.quantity = i32::from(be16(d, 2));
    };
    match (f, request) {
        // Read coils / discrete inputs / holding / input registers; write
        // single coil / register (request and echoed response).
        (1..=4, true) | (5 | 6, _) | (15 | 16, false) => addr_qty(&mut r),
        (15 | 16, true) => {
            addr_qty(&mut r);
            let n = u8_at(d, 4);
            r.byte_count = i32::from(n);
            r.values = clamp(d, 5, 5 + usize::from(n)).to_vec();
        }
        (1..=4, false) => {
            let n = u8_at(d, 0);
            r.byte_count = i32::from(n);
            r.values = clamp(d, 1, 1 + usize::from(n)).to_vec();
        }
        _ => {}
    }
    r
}

/// Decodes the Modbus ADUs of a TCP payload to or from port 502. Returns
/// `None` when the segment is not Modbus (other ports, no payload, or a
/// protocol ID other than 0).
pub fn on_tcp<S: RecordSink>(
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    pkt: &PacketInfo<'_>,
    sink: &mut S,
) -> Option<Outcome> {
    if (src_port != PORT && dst_port != PORT) || payload.is_empty() {
        return None;
    }
    // Protocol ID 0 is Modbus; other values are other traffic on the port
    // (tshark's heuristic too).
    if be16(payload, 2) != 0 {
        return None;
    }
    let request = dst_port == PORT;
    let mut rest = payload;
    for i in 0..MAX_ADUS {
        let view = match ModbusView::new(rest) {
            Ok(v) => v,
            Err(e) => return Some(Outcome::Error(e)),
        };
        if i > 0 && view.protocol_id() != 0 {
            break;
        }
        sink.emit(&record(&view, request, pkt));
        rest = view.rest();
        if rest.is_empty() {
            break;
        }
    }
    Some(Outcome::Decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{decode_file, pkt, Sink};

    #[test]
    fn requests_responses_exceptions() {
        // Read holding registers request, then a second ADU in the same segment:
        // write multiple registers (2 registers, 4 bytes).
        let b = [
            0, 5, 0, 0, 0, 6, 10, 3, 0, 5, 0, 2, //
            0, 6, 0, 0, 0, 11, 10, 16, 0, 1, 0, 2, 4, 0, 10, 1, 2,
        ];
        let mut s = Sink::default();
        assert_eq!(
            on_tcp(1234, 502, &b, &pkt(&b), &mut s),
            Some(Outcome::Decoded)
        );
        let v = s.all::<Modbus>();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (
                v[0].transaction_id,
                v[0].length,
                v[0].unit_id,
                v[0].function_code
            ),
            (5, 6, 10, 3)
        );
        assert_eq!(
            (v[0].starting_address, v[0].quantity, v[0].request),
            (5, 2, true)
        );
        assert_eq!((v[1].function_code, v[1].byte_count), (16, 4));
        assert_eq!(v[1].values, [0, 10, 1, 2]);
        // Read response with 4 bytes of values.
        let b = [0, 5, 0, 0, 0, 7, 10, 3, 4, 0, 1, 0, 2];
        let mut s = Sink::default();
        on_tcp(502, 1234, &b, &pkt(&b), &mut s);
        let r = s.first::<Modbus>();
        assert_eq!(
            (r.byte_count, r.values.as_slice(), r.request),
            (4, &[0, 1, 0, 2][..], false)
        );
        // Exception response.
        let b = [0, 9, 0, 0, 0, 3, 10, 0x81, 2];
        let mut s = Sink::default();
        on_tcp(502, 1234, &b, &pkt(&b), &mut s);
        let r = s.first::<Modbus>();
        assert_eq!(
            (r.function_code, r.exception, r.exception_code),
            (1, true, 2)
        );
        // Not Modbus, empty, broken.
        let mut s = Sink::default();
        assert_eq!(on_tcp(80, 1234, &b, &pkt(&b), &mut s), None);
        assert_eq!(on_tcp(502, 1234, &[], &pkt(&b), &mut s), None);
        assert!(matches!(
            on_tcp(502, 1, &b[..7], &pkt(&b), &mut s),
            Some(Outcome::Error(_))
        ));
        // Another protocol ID: not Modbus.
        assert_eq!(
            on_tcp(502, 1, &[0, 1, 0, 16, 0, 6, 10, 1], &pkt(&b), &mut s),
            None
        );
        let bad = [0, 9, 0, 0, 0, 1, 10, 3];
        assert!(ModbusView::new(&bad).is_err());
    }

    #[test]
    fn capture() {
        // tshark frame 57: trans 1, len 6, unit 10, read holding registers
        // (3) at reference 5, 2 words; frame 58: its response, 4 bytes.
        // Frame 91: exception response to function 1, code 6.
        let f = decode_file("modbus-tcp.pcap");
        let r = f[56].1.first::<Modbus>();
        assert_eq!(
            (r.transaction_id, r.length, r.unit_id, r.function_code),
            (1, 6, 10, 3)
        );
        assert_eq!((r.starting_address, r.quantity), (5, 2));
        assert_eq!(f[57].1.first::<Modbus>().byte_count, 4);
        let r = f[90].1.first::<Modbus>();
        assert_eq!(
            (r.function_code, r.exception, r.exception_code),
            (1, true, 6)
        );
    }
}
