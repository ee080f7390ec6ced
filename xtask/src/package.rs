//! Packaging one Lambda `bootstrap`: check that it is an arm64 Linux executable, then zip it
//! deterministically (same input bytes -> same zip bytes, on every machine, at any time).
//!
//! The zip holds exactly one entry, `bootstrap`, with Unix mode 0755, the DOS epoch timestamp
//! (1980-01-01 00:00:00), Deflate at level 9 and no extra fields. The zip crate's Deflate backend is
//! pure Rust (miniz_oxide) pinned by Cargo.lock, so the compressed bytes do not depend on the host.

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::error::Refusal;

/// `e_machine` of 64-bit ARM.
pub const EM_AARCH64: u16 = 183;
const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;

/// The one file in every Lambda zip: what the `provided.al2023` runtime executes.
pub const BOOTSTRAP: &str = "bootstrap";
/// Unix permissions of `bootstrap` inside the zip.
pub const BOOTSTRAP_MODE: u32 = 0o755;
/// Deflate level: fixed, so the bytes never depend on a default that might change.
pub const DEFLATE_LEVEL: i64 = 9;

/// Checks that `bytes` are a Linux executable for aarch64 that Lambda's `provided.al2023` arm64
/// runtime can run, or says in one line what they are instead.
///
/// Accepted: ELF64, little-endian, `e_machine == EM_AARCH64`, and either `ET_EXEC` (a classic
/// non-PIE executable) or `ET_DYN` *with* a `PT_INTERP` program header. Rust builds position
/// independent executables by default, which are `ET_DYN` like shared libraries; the program
/// interpreter (`/lib/ld-linux-aarch64.so.1`) is what tells a PIE executable from a `.so`, which
/// has none. A static-pie binary (`ET_DYN`, no interpreter) is refused too: we build for the glibc
/// target, so one would mean the build did not do what we think.
pub fn check_elf(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 {
        return Err("a 32-bit ELF file, not a 64-bit one".into());
    }
    if bytes[5] != 1 {
        return Err("a big-endian ELF file, not a little-endian one".into());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let machine = u16_at(18);
    if machine != EM_AARCH64 {
        let name = match machine {
            EM_X86_64 => "x86-64".to_string(),
            other => format!("e_machine {other}"),
        };
        return Err(format!("an ELF file for {name}, not for aarch64 (e_machine {EM_AARCH64})"));
    }
    match u16_at(16) {
        ET_EXEC => Ok(()),
        ET_DYN if has_interpreter(bytes)? => Ok(()),
        ET_DYN => Err("an aarch64 shared object (ET_DYN without a program interpreter), not an executable".into()),
        other => Err(format!("an aarch64 ELF file of type {other}, not an executable")),
    }
}

fn has_interpreter(bytes: &[u8]) -> Result<bool, String> {
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes"));
    let phentsize = u16::from_le_bytes([bytes[54], bytes[55]]) as u64;
    let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as u64;
    for i in 0..phnum {
        let at = phoff.checked_add(i * phentsize).filter(|&at| at + 4 <= bytes.len() as u64);
        let Some(at) = at else {
            return Err("a truncated ELF file (program headers past the end)".into());
        };
        let at = at as usize;
        if u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The deterministic zip of one `bootstrap` executable.
pub fn zip_bootstrap(bootstrap: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::default())
        .unix_permissions(BOOTSTRAP_MODE)
        .large_file(false);
    zip.start_file(BOOTSTRAP, options)?;
    zip.write_all(bootstrap)?;
    Ok(zip.finish()?.into_inner())
}

/// Reads `path`, checks it with [`check_elf`] and returns its deterministic zip.
pub fn package_bootstrap(function: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Refusal::new(
            format!("cannot read the {function} binary {}: {e}", path.display()),
            "the build did not produce it; rerun `cargo xtask build` and read cargo-lambda's output",
        )
    })?;
    check_elf(&bytes).map_err(|what| {
        Refusal::new(
            format!("refusing to package {}: it is {what}", path.display()),
            "Lambda arm64 runs aarch64 Linux executables only; build with `cargo xtask build` (cargo lambda build --arm64)",
        )
    })?;
    zip_bootstrap(&bytes)
}
