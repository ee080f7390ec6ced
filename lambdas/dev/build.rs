//! Build script: bundles the front end (`../../static`) into `OUT_DIR/site` with the release
//! bundler (`site-bundle`), so the dev server's first page load needs no bundling. Writes only
//! inside `OUT_DIR` and never fails the build: a broken `static/` is a warning here and the dev
//! server bundles at run time, where it reports the real error. Exposes to the crate:
//! `NOTES_DEV_SITE_BUNDLE` (the bundle dir, `site-manifest.json` next to it), `NOTES_DEV_SITE_ERROR`
//! (empty, or the one-line cause) and `NOTES_DEV_STATIC_DIR` (what was bundled).

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let static_dir = manifest_dir.join("../../static");
    // A directory: cargo reruns this script when any file below it changes (or when it appears).
    println!("cargo::rerun-if-changed={}", static_dir.display());
    let bundle_dir = out_dir.join("site");
    let manifest_path = out_dir.join("site-manifest.json");
    let _ = std::fs::remove_dir_all(&bundle_dir);
    let _ = std::fs::remove_file(&manifest_path);
    let error = match site_bundle::bundle(&static_dir, &bundle_dir) {
        Ok(bundle) => {
            std::fs::write(&manifest_path, site_bundle::manifest_json(&bundle.files)).expect("OUT_DIR is writable");
            String::new()
        }
        Err(err) => {
            if static_dir.exists() {
                println!("cargo::warning=site bundle: {} (hint: {})", err.what, err.hint);
            }
            err.what.replace(['\n', '\r'], " ")
        }
    };
    let canonical = static_dir.canonicalize().unwrap_or(static_dir);
    println!("cargo::rustc-env=NOTES_DEV_SITE_BUNDLE={}", bundle_dir.display());
    println!("cargo::rustc-env=NOTES_DEV_SITE_ERROR={error}");
    println!("cargo::rustc-env=NOTES_DEV_STATIC_DIR={}", canonical.display());
}
