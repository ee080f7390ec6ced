//! Poll-based change detection: a snapshot of (path, size, mtime) of every file under some roots.
//! Polling needs no platform watcher, works on every file system and costs little for trees this
//! size (`static/` and `lambdas/` are a few hundred files).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a tree looked like: sorted (path, size, modified) of the files that pass the filter.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Snapshot(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Snapshot {
    /// Walks `roots` (missing ones are skipped), skipping hidden entries and `target`/`node_modules`
    /// directories, keeping files for which `keep` is true.
    pub fn take(roots: &[PathBuf], keep: impl Fn(&Path) -> bool) -> Snapshot {
        let mut files = Vec::new();
        for root in roots {
            let walk = walkdir::WalkDir::new(root).sort_by_file_name().into_iter().filter_entry(|e| {
                let name = e.file_name().to_string_lossy();
                e.depth() == 0 || !(name.starts_with('.') || name == "target" || name == "node_modules")
            });
            for entry in walk.flatten() {
                if !entry.file_type().is_file() || !keep(entry.path()) {
                    continue;
                }
                if let Ok(meta) = entry.metadata() {
                    files.push((entry.path().to_path_buf(), meta.len(), meta.modified().ok()));
                }
            }
        }
        Snapshot(files)
    }
}

/// Files whose change means the API must be rebuilt: Rust sources, manifests, SQL migrations.
pub fn is_api_source(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(path.extension().and_then(|e| e.to_str()), Some("rs" | "sql" | "toml")) || name == "Cargo.lock"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_change_when_a_file_changes_appears_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let roots = [dir.path().to_path_buf()];
        std::fs::write(dir.path().join("a.rs"), "1").unwrap();
        std::fs::create_dir(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("target/ignored.rs"), "x").unwrap();
        let first = Snapshot::take(&roots, is_api_source);
        assert_eq!(first.0.len(), 1);
        assert_eq!(first, Snapshot::take(&roots, is_api_source));
        std::fs::write(dir.path().join("notes.md"), "not a source").unwrap();
        assert_eq!(first, Snapshot::take(&roots, is_api_source));
        std::fs::write(dir.path().join("a.rs"), "22").unwrap();
        let second = Snapshot::take(&roots, is_api_source);
        assert_ne!(first, second);
        std::fs::write(dir.path().join("b.sql"), "").unwrap();
        assert_ne!(second, Snapshot::take(&roots, is_api_source));
    }
}
