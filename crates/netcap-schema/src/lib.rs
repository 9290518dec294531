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
pub trait Record: prost::Message + Default + Send + 'static {
    /// The record's type number.
    const TYPE: Type;
    /// The record type name (the message name), used for file names.
    const NAME: &'static str;
}

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

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

    #[test]
    fn names_round_trip() {
        assert_eq!(Tcp::NAME, "TCP");
        assert_eq!(<Tcp as Record>::TYPE, Type::NcTcp);
        assert_eq!(Type::from_record_name("ipv6"), Some(Type::NcIPv6));
        assert_eq!(Type::NcDot1Q.record_name(), "Dot1Q");
        assert_eq!(Type::from_record_name("Header"), None);
    }
}
