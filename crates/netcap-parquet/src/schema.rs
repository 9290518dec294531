//! The Arrow schema of a record type, derived from its protobuf descriptor.
//!
//! | protobuf | Arrow (Parquet) |
//! |---|---|
//! | `bool` | `Boolean` |
//! | `int32`, `sint32`, `sfixed32` | `Int32` |
//! | `int64`, `sint64`, `sfixed64` | `Int64` |
//! | `sfixed64 Timestamp*` (schema convention) | `Timestamp(ns, "UTC")` |
//! | `uint32`, `fixed32` | `UInt32` |
//! | `uint64`, `fixed64` | `UInt64` |
//! | `float` / `double` | `Float32` / `Float64` |
//! | `string` / `bytes` | `Utf8` / `Binary` |
//! | enum | `Utf8`: the value's name, as `netcap dump --json` shows it |
//! | message | `Struct`, null when unset |
//! | `repeated T` | `List<T>` |
//! | `map<K, V>` | `List<Struct<key, value>>`, entries sorted by key |
//!
//! Scalars, lists and list items are non-nullable: protobuf 3 has no null
//! scalar (an unset one reads as its default), and a repeated field is at
//! worst empty. Only singular message fields can be null.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use netcap_schema::is_timestamp_field;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use crate::Error;

/// How deep messages may nest: a deeper (recursive) message has no finite
/// Arrow schema.
pub const MAX_DEPTH: usize = 16;

/// Time zone of the timestamp columns: nanoseconds since the Unix epoch, UTC.
pub const TIMESTAMP_TZ: &str = "UTC";

/// The name of the element field of every list column (Arrow's default).
pub const LIST_ITEM: &str = "item";

/// The Arrow schema of the records of `desc`: one column per field, in
/// schema order.
pub fn arrow_schema(desc: &MessageDescriptor) -> Result<Schema, Error> {
    Ok(Schema::new(message_fields(desc, 0)?))
}

/// Whether `field` holds a timestamp: an `sfixed64` (or other 64-bit signed)
/// field whose name starts with `Timestamp`, as `netcap dump` decides.
pub fn is_timestamp(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Sfixed64 | Kind::Int64 | Kind::Sint64)
        && is_timestamp_field(field.name())
}

/// The Arrow fields of a message's fields.
fn message_fields(desc: &MessageDescriptor, depth: usize) -> Result<Fields, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep(desc.full_name().to_string()));
    }
    desc.fields()
        .map(|f| arrow_field(&f, depth))
        .collect::<Result<Vec<_>, _>>()
        .map(Fields::from)
}

/// The Arrow field of one protobuf field.
pub(crate) fn arrow_field(field: &FieldDescriptor, depth: usize) -> Result<Field, Error> {
    let element = element_type(field, depth)?;
    Ok(if field.is_list() || field.is_map() {
        Field::new(field.name(), DataType::List(list_item(element)), false)
    } else {
        let nullable = matches!(field.kind(), Kind::Message(_));
        Field::new(field.name(), element, nullable)
    })
}

/// The non-nullable element field of a list column.
pub(crate) fn list_item(element: DataType) -> FieldRef {
    Arc::new(Field::new(LIST_ITEM, element, false))
}

/// The type of one value of `field` (of each element when repeated; of each
/// entry, a struct of key and value, for a map).
fn element_type(field: &FieldDescriptor, depth: usize) -> Result<DataType, Error> {
    Ok(match field.kind() {
        Kind::Bool => DataType::Boolean,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => DataType::Int32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 if is_timestamp(field) => {
            DataType::Timestamp(TimeUnit::Nanosecond, Some(TIMESTAMP_TZ.into()))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => DataType::Int64,
        Kind::Uint32 | Kind::Fixed32 => DataType::UInt32,
        Kind::Uint64 | Kind::Fixed64 => DataType::UInt64,
        Kind::Float => DataType::Float32,
        Kind::Double => DataType::Float64,
        Kind::String | Kind::Enum(_) => DataType::Utf8,
        Kind::Bytes => DataType::Binary,
        Kind::Message(m) => DataType::Struct(message_fields(&m, depth + 1)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::{descriptor_pool, message_descriptor, Type, ALL_TYPES};

    fn schema(ty: Type) -> Schema {
        arrow_schema(&message_descriptor(ty).unwrap()).unwrap()
    }

    fn ts() -> DataType {
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    }

    #[test]
    fn every_record_type_has_a_schema_with_one_column_per_field() {
        for &t in ALL_TYPES {
            let d = message_descriptor(t).unwrap();
            let s = arrow_schema(&d).unwrap();
            let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
            let want: Vec<String> = d.fields().map(|f| f.name().to_string()).collect();
            assert_eq!(names, want, "{t:?}");
            assert_eq!(
                s.field_with_name("Timestamp").unwrap().data_type(),
                &ts(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn scalars_keep_their_types() {
        let s = schema(Type::NcTcp);
        let ty = |n: &str| s.field_with_name(n).unwrap().data_type().clone();
        assert_eq!(ty("SrcPort"), DataType::Int32);
        assert_eq!(ty("SeqNum"), DataType::UInt32);
        assert_eq!(ty("SYN"), DataType::Boolean);
        assert_eq!(ty("Padding"), DataType::Binary);
        assert_eq!(ty("PayloadEntropy"), DataType::Float64);
        assert_eq!(ty("PacketNumber"), DataType::UInt64);
        assert!(!s.field_with_name("SrcPort").unwrap().is_nullable());
    }

    #[test]
    fn repeated_messages_are_lists_of_structs() {
        let s = schema(Type::NcTcp);
        let f = s.field_with_name("Options").unwrap();
        assert!(!f.is_nullable());
        let DataType::List(item) = f.data_type() else {
            panic!("{f:?}")
        };
        assert!(!item.is_nullable());
        let DataType::Struct(fields) = item.data_type() else {
            panic!("{item:?}")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["OptionType", "OptionLength", "OptionData"]);
        assert_eq!(fields[2].data_type(), &DataType::Binary);
    }

    #[test]
    fn singular_messages_are_nullable_structs_with_nested_timestamps() {
        let s = schema(Type::NcIPv6);
        let f = s.field_with_name("HopByHop").unwrap();
        assert!(f.is_nullable());
        let DataType::Struct(fields) = f.data_type() else {
            panic!("{f:?}")
        };
        assert_eq!(fields[0].name(), "Timestamp");
        assert_eq!(fields[0].data_type(), &ts());
        assert!(matches!(fields[1].data_type(), DataType::List(_)));
    }

    #[test]
    fn repeated_scalars_and_enums() {
        // DNS TXT records: repeated strings inside a repeated message.
        let s = schema(Type::NcDns);
        let DataType::List(item) = s.field_with_name("Answers").unwrap().data_type() else {
            panic!()
        };
        let DataType::Struct(rr) = item.data_type() else {
            panic!()
        };
        let txts = rr.iter().find(|f| f.name() == "TXTs").unwrap();
        assert_eq!(txts.data_type(), &DataType::List(list_item(DataType::Utf8)),);
        // The only enum of the schema is the header's record type: a string.
        let header = descriptor_pool()
            .get_message_by_name("netcap.Header")
            .unwrap();
        let h = arrow_schema(&header).unwrap();
        assert_eq!(
            h.field_with_name("Type").unwrap().data_type(),
            &DataType::Utf8
        );
    }

    #[test]
    fn non_timestamp_int64_stay_integers() {
        // X509Certificate.NotBefore is sfixed64 seconds, not a `Timestamp*` field.
        let s = schema(Type::NcX509Certificate);
        assert_eq!(
            s.field_with_name("NotBefore").unwrap().data_type(),
            &DataType::Int64
        );
    }
}
