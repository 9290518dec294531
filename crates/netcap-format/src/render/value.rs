//! Rendering of single field values.

use std::fmt::Write as _;

use netcap_schema::is_timestamp_field;
use netcap_schema::time::{format_epoch_micros, format_rfc3339};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value};

use super::RenderOptions;

/// Whether a singular message field is unset (shown empty / null).
fn unset_message(msg: &DynamicMessage, field: &FieldDescriptor) -> bool {
    !field.is_list()
        && !field.is_map()
        && matches!(field.kind(), Kind::Message(_))
        && !msg.has_field(field)
}

fn timestamp_text(ns: i64, opts: &RenderOptions) -> String {
    if opts.utc {
        format_rfc3339(ns)
    } else {
        format_epoch_micros(ns)
    }
}

/// Text of a field for CSV, TSV and tables. Nested messages render as
/// `(Name=value Name=value)`, repeated values as `[a,b]`; bytes are lowercase hex.
pub fn cell_text(msg: &DynamicMessage, field: &FieldDescriptor, opts: &RenderOptions) -> String {
    let mut out = String::new();
    if !unset_message(msg, field) {
        write_value(&mut out, &msg.get_field(field), field, opts);
    }
    out
}

fn write_value(out: &mut String, v: &Value, field: &FieldDescriptor, opts: &RenderOptions) {
    match v {
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, field, opts);
            }
            out.push(']');
        }
        Value::Message(m) => {
            out.push('(');
            for (i, f) in m.descriptor().fields().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(f.name());
                out.push('=');
                if !unset_message(m, &f) {
                    write_value(out, &m.get_field(&f), &f, opts);
                }
            }
            out.push(')');
        }
        Value::I64(n) if is_timestamp_field(field.name()) => {
            out.push_str(&timestamp_text(*n, opts))
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(n) => push_display(out, n),
        Value::I64(n) => push_display(out, n),
        Value::U32(n) => push_display(out, n),
        Value::U64(n) => push_display(out, n),
        Value::F32(n) => push_display(out, n),
        Value::F64(n) => push_display(out, n),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            for byte in b.iter() {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::EnumNumber(n) => match field.kind() {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(ev) => out.push_str(ev.name()),
                None => push_display(out, n),
            },
            _ => push_display(out, n),
        },
        Value::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k:?}=");
                write_value(out, v, field, opts);
            }
            out.push('}');
        }
    }
}

fn push_display(out: &mut String, v: &dyn std::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// A field as a JSON value: nested messages are objects, repeated fields arrays,
/// bytes lowercase hex, enums their names, timestamps like the CSV text.
pub fn json_value(
    msg: &DynamicMessage,
    field: &FieldDescriptor,
    opts: &RenderOptions,
) -> serde_json::Value {
    if unset_message(msg, field) {
        return serde_json::Value::Null;
    }
    to_json(&msg.get_field(field), field, opts)
}

fn to_json(v: &Value, field: &FieldDescriptor, opts: &RenderOptions) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::List(items) => J::Array(items.iter().map(|i| to_json(i, field, opts)).collect()),
        Value::Message(m) => J::Object(
            m.descriptor()
                .fields()
                .map(|f| (f.name().to_string(), json_value(m, &f, opts)))
                .collect(),
        ),
        Value::I64(n) if is_timestamp_field(field.name()) => J::String(timestamp_text(*n, opts)),
        Value::Bool(b) => J::Bool(*b),
        Value::I32(n) => J::from(*n),
        Value::I64(n) => J::from(*n),
        Value::U32(n) => J::from(*n),
        Value::U64(n) => J::from(*n),
        Value::F32(n) => J::from(f64::from(*n)),
        Value::F64(n) => J::from(*n),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(_) | Value::EnumNumber(_) | Value::Map(_) => {
            let mut s = String::new();
            write_value(&mut s, v, field, opts);
            J::String(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::{message_descriptor, IPv6, IPv6HopByHop, IPv6Option, Tcp, TcpOption, Type};
    use prost::Message;

    fn dynamic<M: Message>(ty: Type, m: &M) -> DynamicMessage {
        DynamicMessage::decode(
            message_descriptor(ty).unwrap(),
            m.encode_to_vec().as_slice(),
        )
        .unwrap()
    }

    fn field(msg: &DynamicMessage, name: &str) -> FieldDescriptor {
        msg.descriptor().get_field_by_name(name).unwrap()
    }

    #[test]
    fn scalars_timestamps_bytes_and_nested() {
        let t = Tcp {
            timestamp: 1_499_255_023_048_884_123,
            src_port: 443,
            syn: true,
            padding: vec![0, 0xab],
            options: vec![
                TcpOption {
                    option_type: 2,
                    option_length: 4,
                    option_data: vec![5, 0xb4],
                },
                TcpOption {
                    option_type: 1,
                    option_length: 1,
                    option_data: vec![],
                },
            ],
            ..Default::default()
        };
        let m = dynamic(Type::NcTcp, &t);
        let o = RenderOptions::default();
        assert_eq!(
            cell_text(&m, &field(&m, "Timestamp"), &o),
            "1499255023.048884"
        );
        assert_eq!(
            cell_text(&m, &field(&m, "Timestamp"), &RenderOptions { utc: true }),
            "2017-07-05T11:43:43.048884123Z"
        );
        assert_eq!(cell_text(&m, &field(&m, "SrcPort"), &o), "443");
        assert_eq!(cell_text(&m, &field(&m, "SYN"), &o), "true");
        assert_eq!(cell_text(&m, &field(&m, "FIN"), &o), "false");
        assert_eq!(cell_text(&m, &field(&m, "Padding"), &o), "00ab");
        assert_eq!(
            cell_text(&m, &field(&m, "Options"), &o),
            "[(OptionType=2 OptionLength=4 OptionData=05b4),(OptionType=1 OptionLength=1 OptionData=)]"
        );
        let j = json_value(&m, &field(&m, "Options"), &o);
        assert_eq!(j[0]["OptionData"], "05b4");
        assert_eq!(j[1]["OptionType"], 1);
    }

    #[test]
    fn unset_nested_message_is_empty() {
        let m = dynamic(Type::NcIPv6, &IPv6::default());
        let o = RenderOptions::default();
        assert_eq!(cell_text(&m, &field(&m, "HopByHop"), &o), "");
        assert!(json_value(&m, &field(&m, "HopByHop"), &o).is_null());
        let set = IPv6 {
            hop_by_hop: Some(IPv6HopByHop {
                timestamp: 0,
                options: vec![IPv6Option {
                    option_type: 5,
                    option_length: 2,
                    option_data: vec![0, 0],
                }],
                packet_number: 0,
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = dynamic(Type::NcIPv6, &set);
        assert_eq!(
            cell_text(&m, &field(&m, "HopByHop"), &o),
            // IPv6HopByHop is a record type too: its labelling fields come along.
            "(Timestamp=0.000000 Options=[(OptionType=5 OptionLength=2 OptionData=0000)] PacketNumber=0 Label= Category= Signature=)"
        );
    }
}
