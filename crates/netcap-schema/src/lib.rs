//! The Netcap record schema.
//!
//! `proto/netcap.proto` is the single source of truth: this crate compiles it at
//! build time into prost types (one struct per record type), embeds its
//! descriptor set for reflection (generic dump, CSV and JSON), and implements
//! [`Record`] for every message named by the [`Type`] enum.
#![forbid(unsafe_code)]

pub mod time;

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/netcap.rs"));
}

pub use generated::*;

/// The encoded `FileDescriptorSet` of `netcap.proto`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/netcap.fds"));

/// The schema file's text, shipped for readers in other languages.
pub const PROTO_SOURCE: &str = include_str!("../proto/netcap.proto");

/// Protobuf package of every message.
pub const PACKAGE: &str = "netcap";

/// A record type: a protobuf message with its entry in the [`Type`] enum.
pub trait Record: prost::Message + FastEncode + Default + Send + 'static {
    /// The record's type number.
    const TYPE: Type;
    /// The record type name (the message name), used for file names.
    const NAME: &'static str;
}

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

/// Protobuf encoding into a `Vec`, byte for byte what prost writes, without
/// prost's byte-at-a-time `BufMut` varints (generated for every message by
/// build.rs; checked against prost by the tests).
pub trait FastEncode: prost::Message {
    /// Appends the message's fields (no length prefix).
    fn encode_fast_raw(&self, buf: &mut Vec<u8>);

    /// Appends the message with its varint length prefix, like
    /// `prost::Message::encode_length_delimited`.
    fn encode_fast_delimited(&self, buf: &mut Vec<u8>) {
        // The length is patched in after the fields are written: computing
        // `encoded_len` first walks every field a second time.
        let start = buf.len();
        buf.push(0);
        self.encode_fast_raw(buf);
        patch_length_prefix(buf, start);
    }
}

/// Writes the length of `buf[start + 1..]` as a varint into the one byte
/// reserved at `start`, moving the message up when the varint needs more.
#[inline]
fn patch_length_prefix(buf: &mut Vec<u8>, start: usize) {
    let len = buf.len() - start - 1;
    if len < 0x80 {
        if let Some(b) = buf.get_mut(start) {
            *b = len as u8;
        }
    } else {
        patch_long_prefix(buf, start, len as u64);
    }
}

#[inline(never)]
fn patch_long_prefix(buf: &mut Vec<u8>, start: usize, mut len: u64) {
    let mut prefix = [0u8; 10];
    let mut n = 0;
    for slot in &mut prefix {
        n += 1;
        if len < 0x80 {
            *slot = len as u8;
            break;
        }
        *slot = (len as u8) | 0x80;
        len >>= 7;
    }
    let end = buf.len();
    buf.resize(end + n - 1, 0);
    buf.copy_within(start + 1..end, start + n);
    if let (Some(dst), Some(src)) = (buf.get_mut(start..start + n), prefix.get(..n)) {
        dst.copy_from_slice(src);
    }
}

/// Appends `v` as a protobuf varint.
#[inline(always)]
pub fn put_varint(buf: &mut Vec<u8>, v: u64) {
    // Most values written are below 128, many below 16,384 (ports,
    // lengths): keep those cases inline.
    if v < 0x80 {
        buf.push(v as u8);
    } else if v < 0x4000 {
        buf.push((v as u8) | 0x80);
        buf.push((v >> 7) as u8);
    } else {
        put_long_varint(buf, v);
    }
}

#[inline(never)]
fn put_long_varint(buf: &mut Vec<u8>, mut v: u64) {
    // Byte pushes: the record buffers are reused and rarely grow, so each is
    // a predicted capacity check and a store (a copy from a temporary array
    // is a call to memcpy; an exact-size `extend` measured slower).
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod fast_encode {
    use super::generated::*;
    include!(concat!(env!("OUT_DIR"), "/encode.rs"));
}

impl Type {
    /// The record type name (message name): `TCP`, `IPv4`, ...
    pub fn record_name(self) -> &'static str {
        let s = self.as_str_name();
        s.strip_prefix("NC_").unwrap_or(s)
    }

    /// Looks a record type up by its name, as written by users (`TCP`, `ipv4`).
    pub fn from_record_name(name: &str) -> Option<Type> {
        ALL_TYPES
            .iter()
            .copied()
            .find(|t| t.record_name().eq_ignore_ascii_case(name))
    }
}

/// The descriptor pool of the schema, decoded once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The bytes were produced by protox from our own schema at build time; a
        // failure here is a build defect, caught by every test.
        #[allow(clippy::expect_used)]
        DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set is valid")
    })
}

/// The message descriptor for a record type, if the schema has one.
pub fn message_descriptor(ty: Type) -> Option<MessageDescriptor> {
    descriptor_pool().get_message_by_name(&format!("{PACKAGE}.{}", ty.record_name()))
}

/// The labelling fields every record type ends with, with their numbers:
/// `netcap label` appends them to encoded records (see docs/labelling.md).
pub const LABEL_FIELDS: [(&str, u32); 3] =
    [("Label", 1000), ("Category", 1001), ("Signature", 1002)];

/// Whether a field holds a timestamp in nanoseconds (schema convention).
pub fn is_timestamp_field(name: &str) -> bool {
    name.starts_with("Timestamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_descriptor_with_timestamp() {
        for &t in ALL_TYPES {
            let d = message_descriptor(t).unwrap_or_else(|| panic!("{t:?}"));
            assert!(d.get_field_by_name("Timestamp").is_some(), "{t:?}");
            assert!(d.get_field_by_name("PacketNumber").is_some(), "{t:?}");
            assert!(
                !t.description().is_empty(),
                "{t:?} needs a comment on its message"
            );
        }
    }

    /// Appending the labelling fields to any record's bytes must give a valid
    /// labelled record: every record message has them with the same numbers
    /// and type, and no other field of a record reaches their numbers.
    #[test]
    fn every_record_type_has_the_labelling_fields() {
        use prost_reflect::Kind;
        for &t in ALL_TYPES {
            let d = message_descriptor(t).unwrap_or_else(|| panic!("{t:?}"));
            for (name, number) in LABEL_FIELDS {
                let f = d
                    .get_field_by_name(name)
                    .unwrap_or_else(|| panic!("{t:?} lacks {name}"));
                assert_eq!(f.number(), number, "{t:?}.{name}");
                assert!(
                    matches!(f.kind(), Kind::String) && !f.is_list(),
                    "{t:?}.{name}"
                );
            }
            for f in d.fields() {
                if !LABEL_FIELDS.iter().any(|(n, _)| *n == f.name()) {
                    assert!(f.number() < 1000, "{t:?}.{} = {}", f.name(), f.number());
                }
            }
        }
        // The header and nested messages are not records: no labels.
        for m in descriptor_pool().all_messages() {
            if Type::from_record_name(m.name()).is_none() {
                assert!(m.get_field_by_name("Label").is_none(), "{}", m.name());
            }
        }
    }

    #[test]
    fn signed_timestamp_fields_are_fixed_width() {
        use prost_reflect::Kind;
        for m in descriptor_pool().all_messages() {
            for f in m.fields() {
                if is_timestamp_field(f.name()) {
                    assert!(
                        !matches!(f.kind(), Kind::Int64 | Kind::Sint64),
                        "{}.{} should be sfixed64",
                        m.name(),
                        f.name()
                    );
                }
            }
        }
    }

    /// Every field of every record type set to values that exercise each
    /// encoding rule (negative int32, large varints, NaN and -0.0, empty and
    /// non-empty repeated fields, nested messages): prost and FastEncode agree.
    #[test]
    fn fast_encoding_matches_prost_for_every_field() {
        use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};

        fn fill(d: &MessageDescriptor, seed: u64, depth: u32) -> DynamicMessage {
            let mut m = DynamicMessage::new(d.clone());
            for (i, f) in d.fields().enumerate() {
                let k = seed.wrapping_add(i as u64);
                let one = |kind: &Kind| -> Value {
                    match kind {
                        Kind::Int32 => Value::I32(if k % 2 == 0 { -5 } else { 300 }),
                        Kind::Enum(_) => Value::EnumNumber(if k % 2 == 0 { -5 } else { 300 }),
                        Kind::Int64 => Value::I64(if k % 2 == 0 { -1 } else { 1 << 40 }),
                        Kind::Uint32 => Value::U32(u32::MAX),
                        Kind::Uint64 => Value::U64(u64::MAX - k),
                        Kind::Sfixed64 => Value::I64(1_536_669_410_335_693_000),
                        Kind::Bool => Value::Bool(true),
                        Kind::Double => Value::F64(match k % 3 {
                            0 => f64::NAN,
                            1 => -0.0,
                            _ => 2.5,
                        }),
                        Kind::String => Value::String("x".repeat(130 + k as usize % 3)),
                        Kind::Bytes => Value::Bytes(vec![0xab; k as usize % 4].into()),
                        Kind::Message(md) => Value::Message(fill(md, k, depth + 1)),
                        other => panic!("{other:?} has no FastEncode rule"),
                    }
                };
                if depth > 2 && matches!(f.kind(), Kind::Message(_)) {
                    continue;
                }
                let v = if f.is_list() {
                    let n = (k % 3) as usize;
                    Value::List((0..n).map(|_| one(&f.kind())).collect())
                } else {
                    one(&f.kind())
                };
                m.set_field(&f, v);
            }
            m
        }

        for &t in ALL_TYPES.iter().chain([Type::NcHeader].iter()) {
            let d = message_descriptor(t).unwrap_or_else(|| panic!("{t:?}"));
            for seed in 0..6 {
                let bytes = prost::Message::encode_to_vec(&fill(&d, seed, 0));
                let (prost, fast) = encode_both(t, &bytes).unwrap_or_else(|| panic!("{t:?}"));
                assert_eq!(prost, fast, "{t:?} seed {seed}");
                assert!(!fast.is_empty());
            }
        }
        let mut v = Vec::new();
        for n in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            v.clear();
            put_varint(&mut v, n);
            assert_eq!(v.len(), prost::encoding::encoded_len_varint(n), "{n}");
            let mut p = Vec::new();
            prost::encoding::encode_varint(n, &mut p);
            assert_eq!(v, p, "{n}");
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(Tcp::NAME, "TCP");
        assert_eq!(<Tcp as Record>::TYPE, Type::NcTcp);
        assert_eq!(Type::from_record_name("ipv6"), Some(Type::NcIPv6));
        assert_eq!(Type::NcDot1Q.record_name(), "Dot1Q");
        assert_eq!(Type::from_record_name("Header"), None);
    }
}
