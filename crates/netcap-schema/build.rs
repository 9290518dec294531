//! Compiles `proto/netcap.proto` without `protoc` (protox), generates the prost
//! types, embeds the descriptor set for reflection, and derives the `Record`
//! registry from the `Type` enum so adding a record type needs no Rust edits.
use heck::ToUpperCamelCase;
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
            reg,
            "impl Record for {rust_msg} {{\n    const TYPE: Type = Type::{rust_var};\n    const NAME: &'static str = \"{msg}\";\n}}"
        )?;
    }
    all.push_str("];\n");
    desc.push_str("        }\n    }\n}\n");
    std::fs::write(out.join("registry.rs"), reg + &all + &desc)?;

    prost_build::Config::new().out_dir(&out).compile_fds(fds)?;
    Ok(())
}
