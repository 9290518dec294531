//! Compiles `proto/netcap.proto` without `protoc` (protox), generates the prost
//! types, embeds the descriptor set for reflection, and derives the `Record`
//! registry from the `Type` enum so adding a record type needs no Rust edits.
use heck::{ToSnakeCase, ToUpperCamelCase};
use prost::Message;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/netcap.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::Compiler::new(["proto"])?
        .include_source_info(true)
        .open_file(proto)?
        .file_descriptor_set();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("netcap.fds"), fds.encode_to_vec())?;

    let file = fds
        .file
        .iter()
        .find(|f| f.package() == "netcap")
        .ok_or("netcap package not found")?;
    let ty = file
        .enum_type
        .iter()
        .find(|e| e.name() == "Type")
        .ok_or("enum Type not found")?;

    // Leading comment of each message: the one-line description of its record type.
    let mut comments = std::collections::HashMap::new();
    if let Some(info) = &file.source_code_info {
        for loc in &info.location {
            if let [4, idx] = loc.path[..] {
                if let Some(m) = file.message_type.get(idx as usize) {
                    let text = loc.leading_comments().trim().replace('\n', " ");
                    comments.insert(m.name().to_string(), text);
                }
            }
        }
    }
    let mut desc = String::from(
        "impl Type {\n    /// One-line description of the record type (the schema's comment on its message).\n    pub fn description(self) -> &'static str {\n        match self {\n",
    );
    let mut reg = String::new();
    let mut both = String::from(
        "/// Test support: decodes `bytes` as a record of type `ty` and returns its\n/// encoding by prost and by [`FastEncode`] (they must be equal).\n#[doc(hidden)]\npub fn encode_both(ty: Type, bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {\n    match ty {\n",
    );
    let mut all = String::from(
        "/// Every record type with a message, in enum order.\npub const ALL_TYPES: &[Type] = &[\n",
    );
    for v in &ty.value {
        let Some(msg) = v.name().strip_prefix("NC_") else {
            return Err(format!("enum value {} lacks the NC_ prefix", v.name()).into());
        };
        if !file.message_type.iter().any(|m| m.name() == msg) {
            return Err(format!("enum value {} has no message {msg}", v.name()).into());
        }
        let rust_msg = msg.to_upper_camel_case();
        let rust_var = v.name().to_upper_camel_case();
        let text = comments.get(msg).cloned().unwrap_or_default();
        writeln!(desc, "            Type::{rust_var} => {text:?},")?;
        if msg != "Header" {
            writeln!(all, "    Type::{rust_var},")?;
        }
        writeln!(
            both,
            "        Type::{rust_var} => {{ let m = <{rust_msg} as prost::Message>::decode(bytes).ok()?; let mut fast = Vec::new(); m.encode_fast_raw(&mut fast); Some((prost::Message::encode_to_vec(&m), fast)) }}"
        )?;
        writeln!(
            reg,
            "impl Record for {rust_msg} {{\n    const TYPE: Type = Type::{rust_var};\n    const NAME: &'static str = \"{msg}\";\n}}"
        )?;
    }
    all.push_str("];\n");
    desc.push_str("        }\n    }\n}\n");
    both.push_str("    }\n}\n");
    std::fs::write(out.join("registry.rs"), reg + &all + &desc + &both)?;
    std::fs::write(out.join("encode.rs"), fast_encoders(file)?)?;

    prost_build::Config::new().out_dir(&out).compile_fds(fds)?;
    Ok(())
}

/// prost's field identifier for a proto field name (prost-build's `to_snake`).
fn field_ident(name: &str) -> String {
    let s = name.to_snake_case();
    match s.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{s}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{s}_"),
        _ if s.starts_with(|c: char| c.is_numeric()) => format!("_{s}"),
        _ => s,
    }
}

/// `FastEncode` for every message: the same bytes as prost's `encode_raw`
/// (fields in declaration order, proto3 defaults omitted, repeated scalars
/// packed), with varints written inline instead of byte by byte through
/// `BufMut`, which was a tenth of a capture's CPU time.
fn fast_encoders(
    file: &prost_types::FileDescriptorProto,
) -> Result<String, Box<dyn std::error::Error>> {
    // Field type and label numbers of descriptor.proto.
    const DOUBLE: i32 = 1;
    const INT64: i32 = 3;
    const UINT64: i32 = 4;
    const INT32: i32 = 5;
    const BOOL: i32 = 8;
    const STRING: i32 = 9;
    const MESSAGE: i32 = 11;
    const BYTES: i32 = 12;
    const UINT32: i32 = 13;
    const ENUM: i32 = 14;
    const SFIXED64: i32 = 16;
    const REPEATED: i32 = 3;
    let mut code = String::new();
    for m in &file.message_type {
        let rust = m.name().to_upper_camel_case();
        writeln!(
            code,
            "impl crate::FastEncode for {rust} {{\n    fn encode_fast_raw(&self, buf: &mut Vec<u8>) {{"
        )?;
        for f in &m.field {
            let id = field_ident(f.name());
            let n = u64::try_from(f.number())?;
            let ty = f.r#type.unwrap_or_default();
            let repeated = f.label.unwrap_or_default() == REPEATED;
            // Keys are constants: write their varint bytes directly.
            let key = |wt: u64| {
                let mut k = (n << 3) | wt;
                let mut bytes = Vec::new();
                while k >= 0x80 {
                    bytes.push(format!("{}", (k & 0x7f) | 0x80));
                    k >>= 7;
                }
                bytes.push(format!("{k}"));
                match bytes.as_slice() {
                    [one] => format!("buf.push({one});"),
                    _ => format!("buf.extend_from_slice(&[{}]);", bytes.join(", ")),
                }
            };
            let varint_of = |v: &str| match ty {
                INT32 | ENUM => Ok(format!("({v}) as i64 as u64")),
                INT64 | UINT32 | UINT64 => Ok(format!("({v}) as u64")),
                BOOL => Ok(format!("u64::from({v})")),
                _ => Err(format!("{}.{}: unsupported type {ty}", m.name(), f.name())),
            };
            let body = match (ty, repeated) {
                (INT32 | ENUM | INT64 | UINT32 | UINT64, false) => format!(
                    "if self.{id} != 0 {{ {} crate::put_varint(buf, {}); }}",
                    key(0),
                    varint_of(&format!("self.{id}"))?
                ),
                (BOOL, false) => format!("if self.{id} {{ {} buf.push(1); }}", key(0)),
                (DOUBLE, false) => format!(
                    "if self.{id} != 0f64 {{ {} buf.extend_from_slice(&self.{id}.to_le_bytes()); }}",
                    key(1)
                ),
                (SFIXED64, false) => format!(
                    "if self.{id} != 0 {{ {} buf.extend_from_slice(&self.{id}.to_le_bytes()); }}",
                    key(1)
                ),
                (STRING | BYTES, false) => format!(
                    "if !self.{id}.is_empty() {{ {} crate::put_varint(buf, self.{id}.len() as u64); buf.extend_from_slice(self.{id}.as_ref()); }}",
                    key(2)
                ),
                (MESSAGE, false) => format!(
                    "if let Some(m) = &self.{id} {{ {} crate::FastEncode::encode_fast_delimited(m, buf); }}",
                    key(2)
                ),
                (MESSAGE, true) => format!(
                    "for m in &self.{id} {{ {} crate::FastEncode::encode_fast_delimited(m, buf); }}",
                    key(2)
                ),
                (STRING | BYTES, true) => format!(
                    "for s in &self.{id} {{ {} crate::put_varint(buf, s.len() as u64); buf.extend_from_slice(s.as_ref()); }}",
                    key(2)
                ),
                (INT32 | ENUM | INT64 | UINT32 | UINT64 | BOOL, true) => format!(
                    "if !self.{id}.is_empty() {{ {} let len: usize = self.{id}.iter().map(|&v| prost::encoding::encoded_len_varint({})).sum(); crate::put_varint(buf, len as u64); for &v in &self.{id} {{ crate::put_varint(buf, {}); }} }}",
                    key(2),
                    varint_of("v")?,
                    varint_of("v")?
                ),
                _ => return Err(format!("{}.{}: unsupported type {ty}", m.name(), f.name()).into()),
            };
            writeln!(code, "        {body}")?;
        }
        code.push_str("    }\n}\n");
    }
    Ok(code)
}
