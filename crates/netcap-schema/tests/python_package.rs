//! The Python package (`python/`) ships the schema: a copy of `netcap.proto`
//! and its compiled descriptor set (this crate's `FILE_DESCRIPTOR_SET`), which
//! it loads instead of compiling the proto at run time. This test fails when
//! either differs from this crate's; `NETCAP_UPDATE_PYTHON_SCHEMA=1 cargo test
//! -p netcap-schema --test python_package` rewrites both.
use std::path::{Path, PathBuf};

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/src/netcap")
}

fn check(file: &str, want: &[u8]) -> Result<(), String> {
    let path = package_dir().join(file);
    if std::env::var_os("NETCAP_UPDATE_PYTHON_SCHEMA").is_some() {
        std::fs::write(&path, want).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let got = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if got != want {
        return Err(format!(
            "{} differs from crates/netcap-schema ({} bytes, expected {}); run \
             NETCAP_UPDATE_PYTHON_SCHEMA=1 cargo test -p netcap-schema --test python_package",
            path.display(),
            got.len(),
            want.len()
        ));
    }
    Ok(())
}

#[test]
fn python_package_ships_the_current_schema() -> Result<(), String> {
    check("netcap.proto", netcap_schema::PROTO_SOURCE.as_bytes())?;
    check("netcap.fds", netcap_schema::FILE_DESCRIPTOR_SET)
}
