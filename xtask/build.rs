//! Build script: bundles the front end (`../static`) into `OUT_DIR/site` with the same code
//! (`src/site.rs`) that `dist`, `deploy` and the dev server run, so a broken front end shows up as
//! a warning on every `cargo xtask ...` invocation, and the dev server has a bundle ready at start.
//!
//! Writes only inside `OUT_DIR`. Never fails the build: the xtask must stay usable (to run the tests,
//! to deploy the API) while `static/` is missing or broken; `build`/`dist` bundle `static/` again at
//! run time and refuse there with the real error. Exposes to the crate:
//! - `XTASK_SITE_BUNDLE`: the bundle directory (`OUT_DIR/site`), with `manifest.json` next to it at
//!   `OUT_DIR/site-manifest.json`;
//! - `XTASK_SITE_ERROR`: empty when bundling succeeded, else the one-line cause.

#[allow(dead_code)]
#[path = "src/site.rs"]
mod site;

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let static_dir = manifest_dir.join("../static");
    // A directory: cargo reruns this script when any file below it changes (or when it appears).
    println!("cargo::rerun-if-changed={}", static_dir.display());
    println!("cargo::rerun-if-changed=src/site.rs");

    let bundle_dir = site::out_dir_bundle(&out_dir);
    let manifest_path = out_dir.join("site-manifest.json");
    let _ = std::fs::remove_dir_all(&bundle_dir);
    let _ = std::fs::remove_file(&manifest_path);
    let error = match site::bundle(&static_dir, &bundle_dir) {
        Ok(bundle) => {
            for warning in &bundle.warnings {
                println!("cargo::warning=static/{warning}");
            }
            std::fs::write(&manifest_path, site::manifest_json(&bundle.files)).expect("OUT_DIR is writable");
            String::new()
        }
        Err(err) => {
            // Quiet while the front end does not exist yet; loud when it exists but is broken.
            if static_dir.exists() {
                println!("cargo::warning=site bundle: {} (hint: {})", err.what, err.hint);
            }
            let _ = std::fs::remove_dir_all(&bundle_dir);
            err.what.replace(['\n', '\r'], " ")
        }
    };
    println!("cargo::rustc-env=XTASK_SITE_BUNDLE={}", bundle_dir.display());
    println!("cargo::rustc-env=XTASK_SITE_ERROR={error}");
}
