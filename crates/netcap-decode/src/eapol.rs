//! IEEE 802.1X EAP over LAN (EtherType 0x888e) with its key descriptors
//! (802.1X-2004 RC4, 802.11 RSN and WPA) and EAP packets (RFC 3748).

use netcap_schema::{Eap, Eapol, EapolKey};

use crate::util::{be16, clamp, u8_at};
use crate::{need, DecodeError, Outcome, PacketInfo, RecordSink};

/// EtherType of EAPOL.
pub const ETHERTYPE_EAPOL: u16 = 0x888e;

/// Length of the EAPOL header.
pub const HEADER_LEN: usize = 4;

/// EAPOL packet types with records of their own.
pub const TYPE_EAP: u8 = 0;
/// EAPOL-Key.
pub const TYPE_KEY: u8 = 3;

/// Length of the fixed part of an RC4 key descriptor (type byte included).
pub const RC4_FIXED_LEN: usize = 44;
/// Length of the fixed part of an RSN/WPA key descriptor (type byte included).
pub const RSN_FIXED_LEN: usize = 95;

/// A zero-copy view of an EAPOL frame whose header is captured.
#[derive(Debug, Clone, Copy)]
pub struct EapolView<'a> {
    buf: &'a [u8],
}

impl<'a> EapolView<'a> {
    /// Wraps `buf`, checking that the 4-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("EAPOL", buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Protocol version.
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Packet type.
    pub fn packet_type(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Body length.
    pub fn body_len(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Body: the captured bytes up to the body length (Ethernet padding excluded).
    pub fn body(&self) -> &'a [u8] {
        clamp(
            self.buf,
            HEADER_LEN,
            HEADER_LEN + usize::from(self.body_len()),
        )
    }
}

/// Builds the `EAPOL` record of `view`.
pub fn record(view: &EapolView<'_>, pkt: &PacketInfo<'_>) -> Eapol {
    Eapol {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        r#type: i32::from(view.packet_type()),
        length: i32::from(view.body_len()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

fn be64(b: &[u8], off: usize) -> u64 {
    u64::from_be_bytes(crate::util::array_at::<8>(b, off))
}

/// Builds the `EAPOLKey` record of a key descriptor `b` (the EAPOL body).
pub fn key_record(b: &[u8], pkt: &PacketInfo<'_>) -> Result<EapolKey, DecodeError> {
    need("EAPOLKey", b, 1)?;
    let desc = u8_at(b, 0);
    let mut r = EapolKey {
        timestamp: pkt.ts_ns,
        key_descriptor_type: i32::from(desc),
        packet_number: pkt.number,
        ..Default::default()
    };
    if desc == 1 {
        need("EAPOLKey", b, RC4_FIXED_LEN)?;
        r.key_length = i32::from(be16(b, 1));
        r.replay_counter = be64(b, 3);
        r.iv = clamp(b, 11, 27).to_vec();
        r.key_index = i32::from(u8_at(b, 27));
        r.mic = clamp(b, 28, 44).to_vec();
        let key = clamp(b, RC4_FIXED_LEN, b.len());
        r.key_data_length = crate::util::size_i32(key.len());
        r.encrypted_key_data = key.to_vec();
    } else {
        need("EAPOLKey", b, RSN_FIXED_LEN)?;
        let info = be16(b, 1);
        r.key_information = i32::from(info);
        r.key_descriptor_version = i32::from(info & 0x0007);
        r.key_type = info & 0x0008 != 0;
        r.key_index = i32::from((info >> 4) & 0x0003);
        r.install = info & 0x0040 != 0;
        r.key_ack = info & 0x0080 != 0;
        r.key_mic = info & 0x0100 != 0;
        r.secure = info & 0x0200 != 0;
        r.mic_error = info & 0x0400 != 0;
        r.request = info & 0x0800 != 0;
        r.has_encrypted_key_data = info & 0x1000 != 0;
        r.key_length = i32::from(be16(b, 3));
        r.replay_counter = be64(b, 5);
        r.nonce = clamp(b, 13, 45).to_vec();
        r.iv = clamp(b, 45, 61).to_vec();
        r.rsc = be64(b, 61);
        r.id = be64(b, 69);
        r.mic = clamp(b, 77, 93).to_vec();
        let len = be16(b, 93);
        r.key_data_length = i32::from(len);
        r.encrypted_key_data = clamp(b, RSN_FIXED_LEN, RSN_FIXED_LEN + usize::from(len)).to_vec();
    }
    Ok(r)
}

/// Builds the `EAP` record of an EAP packet `b`.
pub fn eap_record(b: &[u8], pkt: &PacketInfo<'_>) -> Result<Eap, DecodeError> {
    need("EAP", b, 4)?;
    let code = u8_at(b, 0);
    let len = be16(b, 2);
    let mut r = Eap {
        timestamp: pkt.ts_ns,
        code: i32::from(code),
        id: i32::from(u8_at(b, 1)),
        length: i32::from(len),
        packet_number: pkt.number,
        ..Default::default()
    };
    // Requests and responses carry a method type and its data.
    if matches!(code, 1 | 2) && len >= 5 {
        need("EAP", b, 5)?;
        r.r#type = i32::from(u8_at(b, 4));
        r.type_data = clamp(b, 5, usize::from(len)).to_vec();
    }
    Ok(r)
}

/// Decodes an EAPOL frame and emits its records (EAPOL, then EAPOLKey or EAP).
pub fn decode<S: RecordSink>(data: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    let view = match EapolView::new(data) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(e),
    };
    sink.emit(&record(&view, pkt));
    let inner = match view.packet_type() {
        TYPE_EAP => eap_record(view.body(), pkt).map(|r| sink.emit(&r)),
        TYPE_KEY => key_record(view.body(), pkt).map(|r| sink.emit(&r)),
        _ => Ok(()),
    };
    match inner {
        Ok(()) => Outcome::Decoded,
        Err(e) => Outcome::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{decode_file, pkt, Sink};

    #[test]
    fn eap_identity() {
        let b = [1, 0, 0, 9, 2, 7, 0, 9, 1, b'b', b'o', b'b', b'!', 0, 0];
        let mut s = Sink::default();
        assert_eq!(decode(&b, &pkt(&b), &mut s), Outcome::Decoded);
        assert_eq!(s.names(), ["EAPOL", "EAP"]);
        let e = s.first::<Eapol>();
        assert_eq!((e.version, e.r#type, e.length), (1, 0, 9));
        let p = s.first::<Eap>();
        assert_eq!((p.code, p.id, p.length, p.r#type), (2, 7, 9, 1));
        assert_eq!(p.type_data, b"bob!");
        // Success: no type.
        let b = [2, 0, 0, 4, 3, 7, 0, 4];
        let mut s = Sink::default();
        decode(&b, &pkt(&b), &mut s);
        assert_eq!(s.first::<Eap>().r#type, 0);
        // EAPOL start: header only.
        let mut s = Sink::default();
        assert_eq!(decode(&[1, 1, 0, 0], &pkt(&[]), &mut s), Outcome::Decoded);
        assert_eq!(s.names(), ["EAPOL"]);
        assert!(EapolView::new(&[1, 1, 0]).is_err());
    }

    #[test]
    fn rsn_key() {
        let mut body = vec![2, 0x01, 0x8a, 0, 16, 0, 0, 0, 0, 0, 0, 0, 1];
        body.extend_from_slice(&[0xaa; 32]); // nonce
        body.extend_from_slice(&[0; 16 + 8 + 8]); // IV, RSC, ID
        body.extend_from_slice(&[0xbb; 16]); // MIC
        body.extend_from_slice(&[0, 2, 0xdd, 0xdd]);
        let r = key_record(&body, &pkt(&body)).unwrap();
        assert_eq!(
            (
                r.key_descriptor_type,
                r.key_information,
                r.key_descriptor_version
            ),
            (2, 0x018a, 2)
        );
        assert!(r.key_type && r.key_ack && r.key_mic && !r.install && !r.secure);
        assert_eq!(
            (r.key_length, r.replay_counter, r.key_data_length),
            (16, 1, 2)
        );
        assert_eq!((r.nonce[0], r.mic[15]), (0xaa, 0xbb));
        assert_eq!(r.encrypted_key_data, [0xdd, 0xdd]);
        assert!(key_record(&body[..94], &pkt(&body)).is_err());
    }

    #[test]
    fn capture() {
        // tshark frame 25: EAPOL-Key, RC4 descriptor, key length 13, replay
        // counter 70782488215707, key index 0x02, key 9af1d153d2ba5ccf63c3a226b8.
        let f = decode_file("dhcp-eapol-lan.pcap");
        let (o, s) = &f[24];
        assert_eq!(*o, Outcome::Decoded);
        let k = s.first::<EapolKey>();
        assert_eq!(
            (
                k.key_descriptor_type,
                k.key_length,
                k.replay_counter,
                k.key_index
            ),
            (1, 13, 70_782_488_215_707, 2)
        );
        assert_eq!(
            k.encrypted_key_data,
            [0x9a, 0xf1, 0xd1, 0x53, 0xd2, 0xba, 0x5c, 0xcf, 0x63, 0xc3, 0xa2, 0x26, 0xb8]
        );
        // Frame 14: EAP request, identity (type 1), id 1, length 5.
        let e = f[13].1.first::<Eap>();
        assert_eq!((e.code, e.id, e.length, e.r#type), (1, 1, 5, 1));
    }
}
