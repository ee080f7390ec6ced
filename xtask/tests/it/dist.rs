//! `cargo xtask build` / `dist` on the fixture project `tests/fixtures/lambda-fixture` (one
//! dependency-free Lambda `api` plus a small `static/`): reproducible zips across checkouts, the zip
//! and ELF shape, `sha256sum -c`, and nothing half-written on failure.
//!
//! Needs cargo-lambda and zig: on PATH (`cargo xtask test` puts the pinned tools venv first on PATH),
//! or in `<target dir>/tools/venv/bin` (created by any `cargo xtask test/build/dist`).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::artifacts::build::{Budgets, build_dist};
use xtask::artifacts::writer::DistWriter;
use xtask::artifacts::{Artifacts, Manifest};
use xtask::compile::{Compiler, discover_in_metadata};
use xtask::package::{self, EM_AARCH64};
use xtask::report::Ui;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lambda-fixture");

/// `cargo xtask dist` on a checkout: the release build with its size budgets.
fn write_dist(compiler: &Compiler, out: &Path) -> anyhow::Result<Artifacts> {
    build_dist(compiler, out, Budgets::Enforce, &Ui::plain("test"))
}

/// `PATH` that finds cargo-lambda, or a panic that says how to get it.
fn tools_path() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if dirs.iter().any(|d| d.join("cargo-lambda").is_file()) {
        return path;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(workspace.join("target"), |t| workspace.join(t));
    let venv_bin = target.join("tools/venv/bin");
    assert!(
        venv_bin.join("cargo-lambda").is_file(),
        "cargo-lambda is neither on PATH nor in {}: run these tests through `cargo xtask test`",
        venv_bin.display()
    );
    dirs.insert(0, venv_bin);
    std::env::join_paths(dirs).unwrap()
}

/// Copies the fixture (plus the workspace's rust-toolchain.toml, so the same compiler is used) to
/// `dest`, a fresh "checkout" with its own `target/`.
fn checkout(dest: &Path) -> Compiler {
    checkout_with_target(dest, &dest.join("target"))
}

/// [`checkout`] with cargo's target dir at `target_dir` (like a CI's shared CARGO_TARGET_DIR).
fn checkout_with_target(dest: &Path, target_dir: &Path) -> Compiler {
    copy_dir(Path::new(FIXTURE), dest);
    let toolchain = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rust-toolchain.toml");
    std::fs::copy(toolchain, dest.join("rust-toolchain.toml")).unwrap();
    Compiler { root: dest.to_path_buf(), target_dir: target_dir.to_path_buf(), path_env: tools_path(), quiet: true }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir_entries(from) {
        let rel = entry.strip_prefix(from).unwrap();
        if rel.starts_with("target") {
            continue;
        }
        let dest = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &dest).unwrap();
        }
    }
}

fn walkdir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(walkdir_entries(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Everything in `dir` whose name starts with `.dist.tmp-` or `.dist.old-`: leftovers of a dist.
fn leftovers(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(".dist.")).collect()
}

/// The one test that cross-compiles twice: reproducibility, zip shape, ELF, sha256sum -c, from_dist.
#[test]
fn two_checkouts_give_identical_dists() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let one = checkout(&a.path().join("checkout-one"));
    // The second one's target dir is outside its checkout: both remaps (workspace, target) matter.
    // Its path holds a space: flags with paths must survive it (CARGO_ENCODED_RUSTFLAGS, quoted CFLAGS).
    let two = checkout_with_target(&b.path().join("some where/else/checkout two"), &b.path().join("cargo target"));
    let dist_one = one.target_dir.join("dist");
    let dist_two = two.target_dir.join("dist");
    let art_one = write_dist(&one, &dist_one).unwrap();
    let art_two = write_dist(&two, &dist_two).unwrap();

    // Same commit, different absolute paths and target dirs: the same bytes everywhere.
    let sums = read(&dist_one.join("SHA256SUMS"));
    assert_eq!(sums, read(&dist_two.join("SHA256SUMS")), "dists differ between checkouts");
    assert_eq!(read(&dist_one.join("manifest.json")), read(&dist_two.join("manifest.json")));

    // SHA256SUMS covers every other file and passes `sha256sum -c`.
    let listed: Vec<&str> = sums.lines().map(|l| l.split_once("  ").unwrap().1).collect();
    let mut files: Vec<String> = walkdir_entries(&dist_one)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| p.strip_prefix(&dist_one).unwrap().to_string_lossy().into_owned())
        .filter(|p| p != "SHA256SUMS")
        .collect();
    files.sort();
    assert_eq!(listed, files);
    let check =
        Command::new("sha256sum").args(["-c", "--strict", "SHA256SUMS"]).current_dir(&dist_one).output().unwrap();
    assert!(check.status.success(), "sha256sum -c failed: {}", String::from_utf8_lossy(&check.stdout));

    // One function, content-addressed, read back identically by from_dist.
    assert_eq!(art_one.functions.len(), 1);
    let api = &art_one.functions[0];
    assert_eq!(
        (api.function.as_str(), api.code_key_parameter.as_str(), api.architecture.as_str()),
        ("api", "ApiCodeKey", "arm64")
    );
    assert_eq!(api.key, format!("lambdas/api/{}.zip", api.sha256));
    assert_eq!(api.path, dist_one.join(&api.key));
    assert_eq!(api.sha256, art_two.functions[0].sha256);
    assert_eq!(Artifacts::from_dist(&dist_one).unwrap(), art_one);

    // The zip: exactly one entry, `bootstrap`, mode 0755, the DOS epoch, an aarch64 executable.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&api.path).unwrap()).unwrap();
    assert_eq!(zip.len(), 1);
    let mut entry = zip.by_index(0).unwrap();
    assert_eq!(entry.name(), "bootstrap");
    assert_eq!(entry.unix_mode().map(|m| m & 0o7777), Some(0o755));
    assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
    let mut bootstrap = Vec::new();
    entry.read_to_end(&mut bootstrap).unwrap();
    assert_eq!(u16::from_le_bytes([bootstrap[18], bootstrap[19]]), EM_AARCH64);
    package::check_elf(&bootstrap).unwrap();
    // Re-zipping the same bytes gives the same zip (no clock, no host in it).
    assert_eq!(package::zip_bootstrap(&bootstrap).unwrap(), std::fs::read(&api.path).unwrap());

    // No absolute path of either checkout made it into the binary.
    for root in [&one.root, &two.root] {
        let needle = root.to_string_lossy();
        assert!(!bootstrap.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} is in the binary");
    }

    // The site went through the bundler: fingerprinted assets, no-cache HTML.
    let manifest: Manifest = serde_json::from_str(&read(&dist_one.join("manifest.json"))).unwrap();
    assert_eq!(manifest.site["index.html"].cache_control, "no-cache");
    assert!(manifest.site.keys().any(|k| k.starts_with("app.") && k.ends_with(".js") && k != "app.js"));
    assert_eq!(manifest.tools.keys().collect::<Vec<_>>(), ["cargo-lambda", "rustc", "zig"]);
    // manifest.json: sorted keys, no timestamps (hashes and versions redacted: they move with the toolchain).
    let hex = regex::Regex::new(r"[0-9a-f]{64}").unwrap();
    let redacted = hex.replace_all(&read(&dist_one.join("manifest.json")), "<sha256>").into_owned();
    let redacted = regex::Regex::new(r#"("(?:cargo-lambda|rustc|zig)": )"[^"]*""#)
        .unwrap()
        .replace_all(&redacted, "$1\"<version>\"");
    let redacted = regex::Regex::new(r#""size": \d+"#).unwrap().replace_all(&redacted, "\"size\": <n>");
    let redacted = regex::Regex::new(r#""md5": "[0-9a-f]{32}""#).unwrap().replace_all(&redacted, "\"md5\": \"<md5>\"");
    expect_test::expect_file!["../fixtures/lambda-fixture.manifest.json"].assert_eq(&redacted);

    // Artifacts::from_dist notices a changed byte.
    std::fs::write(dist_two.join("site/config.json"), "{}").unwrap();
    let err = format!("{:#}", Artifacts::from_dist(&dist_two).unwrap_err());
    assert!(err.contains("site/config.json has sha256"), "{err}");

    // A failing rebuild (fingerprint collision in static/, found after compiling and zipping)
    // leaves the previous dist exactly as it was and no temp dirs behind.
    let greet = std::fs::read(one.root.join("static/greet.js")).unwrap();
    let twin = xtask::site::fingerprinted_name("greet.js", &greet);
    std::fs::write(one.root.join("static").join(&twin), "collides").unwrap();
    let err = write_dist(&one, &dist_one).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains(&format!("static/{twin}, which also exists")), "{message}");
    assert_eq!(read(&dist_one.join("SHA256SUMS")), sums);
    assert_eq!(leftovers(&one.target_dir), Vec::<String>::new());
}

#[test]
fn a_crate_that_does_not_compile_fails_before_touching_dist() {
    let a = tempfile::tempdir().unwrap();
    let one = checkout(&a.path().join("broken"));
    std::fs::write(one.root.join("src/main.rs"), "fn main() { this does not compile }").unwrap();
    let dist = one.target_dir.join("dist");
    let err = write_dist(&one, &dist).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("`cargo lambda build` failed for api (exit status: "), "{message}");
    assert!(message.contains("): error: expected one of"), "{message}");
    assert!(!dist.exists());
    assert_eq!(leftovers(&one.target_dir), Vec::<String>::new());
}

#[test]
fn the_elf_check_refuses_an_x86_64_binary() {
    // This test binary is an x86-64 ELF executable: exactly what a forgotten --arm64 would produce.
    let me = std::env::current_exe().unwrap();
    let bytes = std::fs::read(&me).unwrap();
    if cfg!(target_arch = "x86_64") {
        assert_eq!(package::check_elf(&bytes).unwrap_err(), "an ELF file for x86-64, not for aarch64 (e_machine 183)");
    }
    let err = package::package_bootstrap("api", &me).unwrap_err();
    let refusal = err.downcast_ref::<xtask::error::Refusal>().expect("a Refusal");
    assert!(refusal.what.starts_with("refusing to package"), "{}", refusal.what);
}

/// A minimal ELF64 little-endian header for `machine`/`e_type`, with one program header of `ph_type`.
fn elf(machine: u16, e_type: u16, ph_type: u32) -> Vec<u8> {
    let mut b = vec![0u8; 64 + 56];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // ELFCLASS64
    b[5] = 1; // little-endian
    b[6] = 1;
    b[16..18].copy_from_slice(&e_type.to_le_bytes());
    b[18..20].copy_from_slice(&machine.to_le_bytes());
    b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    b[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    b[64..68].copy_from_slice(&ph_type.to_le_bytes());
    b
}

#[test]
fn the_elf_check_accepts_aarch64_executables_only() {
    let check = |bytes: &[u8], expect: Result<(), &str>| {
        assert_eq!(package::check_elf(bytes), expect.map_err(str::to_string));
    };
    const PT_LOAD: u32 = 1;
    const PT_INTERP: u32 = 3;
    check(&elf(183, 2, PT_LOAD), Ok(())); // ET_EXEC
    check(&elf(183, 3, PT_INTERP), Ok(())); // PIE: ET_DYN with an interpreter
    check(
        &elf(183, 3, PT_LOAD),
        Err("an aarch64 shared object (ET_DYN without a program interpreter), not an executable"),
    );
    check(&elf(183, 1, PT_LOAD), Err("an aarch64 ELF file of type 1, not an executable"));
    check(&elf(62, 3, PT_INTERP), Err("an ELF file for x86-64, not for aarch64 (e_machine 183)"));
    check(&elf(40, 2, PT_LOAD), Err("an ELF file for e_machine 40, not for aarch64 (e_machine 183)"));
    check(b"#!/bin/sh\necho hello, this is a shell script and not a binary at all, really\n", Err("not an ELF file"));
    let mut big_endian = elf(183, 2, PT_LOAD);
    big_endian[5] = 2;
    check(&big_endian, Err("a big-endian ELF file, not a little-endian one"));
    let mut truncated = elf(183, 3, PT_LOAD);
    truncated[56..58].copy_from_slice(&9u16.to_le_bytes());
    check(&truncated, Err("a truncated ELF file (program headers past the end)"));
}

#[test]
fn zips_are_deterministic_with_one_0755_bootstrap() {
    let payload = elf(183, 2, 1);
    let first = package::zip_bootstrap(&payload).unwrap();
    assert_eq!(first, package::zip_bootstrap(&payload).unwrap());
    assert_ne!(first, package::zip_bootstrap(&elf(183, 3, 3)).unwrap());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&first)).unwrap();
    assert_eq!(zip.len(), 1);
    let entry = zip.by_index(0).unwrap();
    assert_eq!((entry.name(), entry.unix_mode()), ("bootstrap", Some(0o100755)));
    assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
}

#[test]
fn functions_are_discovered_from_package_metadata() {
    let metadata = |packages: &str| format!(r#"{{"packages": [{packages}], "version": 1}}"#);
    let pkg = |name: &str, meta: &str, bin: &str| {
        format!(
            r#"{{"name": "{name}", "manifest_path": "/w/{name}/Cargo.toml", "metadata": {meta},
                "targets": [{{"name": "{bin}", "kind": ["bin"]}}, {{"name": "{name}", "kind": ["lib"]}}]}}"#
        )
    };
    let lambda =
        |f: &str, p: &str| format!(r#"{{"xtask": {{"lambda": {{"function": "{f}", "code-key-parameter": "{p}"}}}}}}"#);
    let check = |json: String, expect: expect_test::Expect| {
        let actual = match discover_in_metadata(json.as_bytes()) {
            Ok(functions) => format!("{functions:#?}"),
            Err(err) => format!("error: {err:#}"),
        };
        expect.assert_eq(&actual);
    };
    check(metadata(""), expect_test::expect!["[]"]);
    check(
        metadata(
            &[
                pkg("notes-core", "null", "x"),
                pkg("notes-migrate", &lambda("migrate", "MigrateCodeKey"), "migrate"),
                pkg("notes-api", &lambda("api", "ApiCodeKey"), "api"),
            ]
            .join(","),
        ),
        expect_test::expect![[r#"
            [
                LambdaFunction {
                    function: "api",
                    package: "notes-api",
                    code_key_parameter: "ApiCodeKey",
                },
                LambdaFunction {
                    function: "migrate",
                    package: "notes-migrate",
                    code_key_parameter: "MigrateCodeKey",
                },
            ]"#]],
    );
    check(
        metadata(&pkg("notes-api", &lambda("api", "ApiCodeKey"), "server")),
        expect_test::expect![[
            r#"error: /w/notes-api/Cargo.toml: declares Lambda function api but has no [[bin]] named api"#
        ]],
    );
    check(
        metadata(&[pkg("a", &lambda("api", "ApiCodeKey"), "api"), pkg("b", &lambda("api", "Other"), "api")].join(",")),
        expect_test::expect![[r#"error: packages a and b both declare function api / Other"#]],
    );
    check(
        metadata(&pkg("a", &lambda("Api_1", "ApiCodeKey"), "Api_1")),
        expect_test::expect!["error: /w/a/Cargo.toml: function must be [a-z0-9-]+ and code-key-parameter [A-Za-z0-9]+"],
    );
    check(
        metadata(&pkg("a", r#"{"xtask": {"lambda": {"function": "api"}}}"#, "api")),
        expect_test::expect![[
            r#"error: /w/a/Cargo.toml: bad [package.metadata.xtask.lambda]: missing field `code-key-parameter`"#
        ]],
    );
}

/// `Artifacts::from_dist` on hand-made dist dirs: what `deploy --from-dist` refuses.
#[test]
fn from_dist_refuses_what_dist_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path();
    let check = |expect: expect_test::Expect| {
        let actual = match Artifacts::from_dist(dist) {
            Ok(a) => format!("ok: {} functions, {} site files", a.functions.len(), a.site.files.len()),
            Err(e) => format!("{e:#}").replace(&dist.display().to_string(), "DIST"),
        };
        expect.assert_eq(&actual);
    };
    check(expect_test::expect!["cannot read DIST/manifest.json: No such file or directory (os error 2)"]);

    let mut writer = DistWriter::create(dist).unwrap();
    writer.add_site_file("index.html", b"<!doctype html>", "text/html; charset=utf-8", "no-cache", false).unwrap();
    writer.finish("abc".into(), Default::default()).unwrap().commit().unwrap();
    check(expect_test::expect!["ok: 0 functions, 1 site files"]);

    let manifest = std::fs::read_to_string(dist.join("manifest.json")).unwrap();
    std::fs::write(dist.join("manifest.json"), manifest.replace("\"version\": 2", "\"version\": 3")).unwrap();
    check(expect_test::expect!["DIST/manifest.json has manifest version 3, this xtask reads version 2"]);

    std::fs::write(dist.join("manifest.json"), &manifest).unwrap();
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    // A file nobody listed rides along: refused.
    std::fs::write(dist.join("site/extra.js"), "alert(1)").unwrap();
    check(expect_test::expect!["DIST: site/extra.js is in the dist but not in SHA256SUMS"]);
    std::fs::remove_file(dist.join("site/extra.js")).unwrap();
    // A listed path that leaves the dist, or an absolute one: refused before anything is read.
    let outside = format!("{}0000000000000000000000000000000000000000000000000000000000000000  ../x\n", sums);
    std::fs::write(dist.join("SHA256SUMS"), outside).unwrap();
    check(expect_test::expect![[r#"DIST: SHA256SUMS lists "../x", which is not a plain relative path"#]]);
    let absolute = format!("{}0000000000000000000000000000000000000000000000000000000000000000  /etc/passwd\n", sums);
    std::fs::write(dist.join("SHA256SUMS"), absolute).unwrap();
    check(expect_test::expect![[r#"DIST: SHA256SUMS lists "/etc/passwd", which is not a plain relative path"#]]);
    // The manifest itself must be covered.
    let without_manifest: String =
        sums.lines().filter(|l| !l.ends_with("  manifest.json")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dist.join("SHA256SUMS"), without_manifest).unwrap();
    check(expect_test::expect!["DIST: SHA256SUMS does not list manifest.json"]);
    std::fs::write(dist.join("SHA256SUMS"), &sums).unwrap();
    std::fs::write(dist.join("site/index.html"), "<!doctype html><p>changed").unwrap();
    check(expect_test::expect![
        "DIST: site/index.html has sha256 6bb1759f38846704e55ed74a3874da2574eee4597880d287c8bc62577c6014f5, SHA256SUMS says fe26c59e91ac8de694b2531dc3bdc1b7faf471d3d7e4e00870af60f5f22897cb"
    ]);
}

#[test]
fn a_missing_cargo_lambda_is_refused_with_the_install_command() {
    let a = tempfile::tempdir().unwrap();
    let mut builder = checkout(&a.path().join("no-tools"));
    // Only cargo/rustc (rustup's bin dir) and the system: no venv.
    let cargo = Command::new("rustup").args(["which", "cargo"]).current_dir(&builder.root).output().unwrap();
    let cargo = PathBuf::from(String::from_utf8(cargo.stdout).unwrap().trim());
    builder.path_env =
        std::env::join_paths([cargo.parent().unwrap(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let err = write_dist(&builder, &builder.target_dir.join("dist")).unwrap_err();
    let refusal = err.chain().find_map(|e| e.downcast_ref::<xtask::error::Refusal>()).expect("a Refusal");
    assert_eq!(refusal.what, "cargo-lambda is not installed (not on PATH, not in the tools venv)");
    assert!(refusal.hint.contains("pip install cargo-lambda"), "{}", refusal.hint);
    assert!(!builder.target_dir.join("dist").exists());
}

#[test]
fn the_api_zip_has_a_5_mib_budget() {
    let artifacts = |function: &str, size: u64| Artifacts {
        functions: vec![xtask::artifacts::FunctionArtifact {
            function: function.into(),
            code_key_parameter: "ApiCodeKey".into(),
            key: format!("lambdas/{function}/x.zip"),
            sha256: "x".into(),
            size,
            path: PathBuf::from("x.zip"),
            architecture: "arm64".into(),
        }],
        site: xtask::artifacts::SiteBundle { root: PathBuf::from("site"), files: Default::default() },
        git_commit: "x".into(),
    };
    let check = |a: Artifacts| xtask::artifacts::budgets::check(&a).map_err(|e| e.to_string());
    assert_eq!(check(artifacts("api", 5 * 1024 * 1024)), Ok(()));
    assert_eq!(check(artifacts("api", 8_700_000)), Err("the api zip is 8.3 MiB, over its 5.0 MiB budget".to_string()));
    assert_eq!(check(artifacts("migrate", 8_700_000)), Ok(()));
}
