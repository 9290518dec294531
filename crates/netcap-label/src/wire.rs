//! Just enough of the protobuf wire format to read a few top-level fields of
//! an encoded record and append the labelling fields, without decoding the
//! whole record (bounded: every length is checked against the bytes there).

use netcap_schema::put_varint;

/// A field's value as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    /// A varint (int32, int64, uint64, bool, enum).
    Varint(u64),
    /// 8 bytes (sfixed64, double).
    Fixed64(u64),
    /// Length-delimited (string, bytes, messages).
    Bytes(&'a [u8]),
}

impl<'a> WireValue<'a> {
    /// The value as an integer (varint or fixed64).
    pub fn int(self) -> Option<u64> {
        match self {
            WireValue::Varint(v) | WireValue::Fixed64(v) => Some(v),
            WireValue::Bytes(_) => None,
        }
    }

    /// The value as UTF-8 text.
    pub fn text(self) -> Option<&'a str> {
        match self {
            WireValue::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Calls `f(number, value)` for every top-level field of `record`, in wire
/// order. `None` when the bytes are not a well-formed message (groups and
/// out-of-range lengths included).
pub fn for_each_field<'a>(record: &'a [u8], mut f: impl FnMut(u32, WireValue<'a>)) -> Option<()> {
    let mut pos = 0;
    while pos < record.len() {
        let key = varint(record, &mut pos)?;
        let number = u32::try_from(key >> 3).ok()?;
        let value = match key & 7 {
            0 => WireValue::Varint(varint(record, &mut pos)?),
            1 => {
                let b: [u8; 8] = record.get(pos..pos + 8)?.try_into().ok()?;
                pos += 8;
                WireValue::Fixed64(u64::from_le_bytes(b))
            }
            2 => {
                let len = usize::try_from(varint(record, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let b = record.get(pos..end)?;
                pos = end;
                WireValue::Bytes(b)
            }
            5 => {
                let b: [u8; 4] = record.get(pos..pos + 4)?.try_into().ok()?;
                pos += 4;
                WireValue::Varint(u64::from(u32::from_le_bytes(b)))
            }
            _ => return None,
        };
        f(number, value);
    }
    Some(())
}

/// Appends a string field (omitted when empty, as proto3 encoders do).
pub fn put_string(buf: &mut Vec<u8>, number: u32, value: &str) {
    if value.is_empty() {
        return;
    }
    put_varint(buf, (u64::from(number) << 3) | 2);
    put_varint(buf, value.len() as u64);
    buf.extend_from_slice(value.as_bytes());
}

/// Copies `record` into `buf` without the top-level fields numbered in
/// `drop` (a record labelled before being labelled again). `None` when the
/// record is malformed.
pub fn copy_without(record: &[u8], drop: &[u32], buf: &mut Vec<u8>) -> Option<()> {
    let mut pos = 0;
    while pos < record.len() {
        let start = pos;
        let key = varint(record, &mut pos)?;
        match key & 7 {
            0 => {
                varint(record, &mut pos)?;
            }
            1 => pos = pos.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(record, &mut pos)?).ok()?;
                pos = pos.checked_add(len)?;
            }
            5 => pos = pos.checked_add(4)?,
            _ => return None,
        }
        let field = record.get(start..pos)?;
        let number = u32::try_from(key >> 3).ok()?;
        if !drop.contains(&number) {
            buf.extend_from_slice(field);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::{Connection, Dns, Tcp, LABEL_FIELDS};
    use prost::Message;

    #[test]
    fn reads_fields_prost_wrote() {
        let tcp = Tcp {
            timestamp: -5,
            src_port: 443,
            dst_port: 51_000,
            packet_number: 1 << 40,
            fin: true,
            ..Default::default()
        };
        let bytes = tcp.encode_to_vec();
        let mut seen = Vec::new();
        for_each_field(&bytes, |n, v| seen.push((n, v))).unwrap();
        assert!(seen.contains(&(1, WireValue::Fixed64(-5i64 as u64))));
        assert!(seen.contains(&(2, WireValue::Varint(443))));
        assert!(seen.contains(&(3, WireValue::Varint(51_000))));
        let c = Connection {
            uid: "C0123456789abcdef".into(),
            ..Default::default()
        };
        let bytes = c.encode_to_vec();
        let mut uid = None;
        for_each_field(&bytes, |n, v| {
            if n == 16 {
                uid = v.text();
            }
        })
        .unwrap();
        assert_eq!(uid, Some("C0123456789abcdef"));
    }

    #[test]
    fn appended_labels_decode_and_replace_earlier_ones() {
        let dns = Dns {
            id: 7,
            label: "normal".into(),
            signature: "old".into(),
            ..Default::default()
        };
        let mut bytes = Vec::new();
        copy_without(
            &dns.encode_to_vec(),
            &LABEL_FIELDS.map(|(_, n)| n),
            &mut bytes,
        )
        .unwrap();
        put_string(&mut bytes, 1000, "attack");
        put_string(&mut bytes, 1001, "Misc Attack");
        put_string(&mut bytes, 1002, "");
        let got = Dns::decode(bytes.as_slice()).unwrap();
        assert_eq!(got.id, 7);
        assert_eq!(got.label, "attack");
        assert_eq!(got.category, "Misc Attack");
        assert_eq!(got.signature, "");
        // Appending without removing: protobuf's last value wins.
        let mut again = bytes.clone();
        put_string(&mut again, 1000, "normal");
        assert_eq!(Dns::decode(again.as_slice()).unwrap().label, "normal");
    }

    #[test]
    fn malformed_input_is_refused_not_panicking() {
        for bad in [
            &[0x0a, 0x05, 1][..],
            &[0x09, 1, 2],
            &[0x0b],
            &[0x80],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            &[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ] {
            assert!(for_each_field(bad, |_, _| {}).is_none(), "{bad:?}");
            assert!(copy_without(bad, &[], &mut Vec::new()).is_none(), "{bad:?}");
        }
    }
}
