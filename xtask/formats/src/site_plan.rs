//! What a site sync will do, decided from three facts: the files the dist says the site is
//! (`local`), what the bucket holds (`listing`: size and ETag of every key), and the manifest of the
//! last sync (headers). Pure: no I/O, so every rule is a unit test.
//!
//! - A file is uploaded when the bucket lacks it, its size differs, its ETag (the MD5 of a
//!   single-part upload) differs, or the manifest does not vouch for its sha256 and headers: a
//!   file deleted or overwritten by hand is put back, and so is one an interrupted sync left old.
//! - A key the bucket holds that the site does not is a stray, deleted up to `max_delete`; the rest
//!   stay, are reported, and are found again by the next run's listing.
//! - Order: fingerprinted assets first (an old `index.html` never points at a missing asset), then
//!   pages (HTML, `config.json`), then deletions.

use std::collections::BTreeMap;

use crate::site_manifest::{Entry, Manifest};

/// What a listing of the bucket says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub size: u64,
    /// The ETag without quotes: the MD5 of the bytes for a single-part upload without SSE-KMS.
    pub etag: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub assets: Vec<String>,
    pub pages: Vec<String>,
    pub skipped: Vec<String>,
    /// Strays to delete now.
    pub deletes: Vec<String>,
    /// Strays over `max_delete`, left for a later run.
    pub kept: Vec<String>,
    /// Why each upload happens, by key (for the progress lines and the tests).
    pub reasons: BTreeMap<String, &'static str>,
}

impl Plan {
    pub fn uploads(&self) -> impl Iterator<Item = &String> {
        self.assets.iter().chain(&self.pages)
    }
}

/// An ETag that is the plain MD5 of the object's bytes (single part, no SSE-KMS).
fn is_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why `key` must be uploaded, or None when the bucket already serves exactly `entry`.
fn reason(entry: &Entry, listed: Option<&Listed>, known: Option<&Entry>) -> Option<&'static str> {
    let Some(listed) = listed else { return Some("missing from the bucket") };
    if listed.size != entry.size {
        return Some("different size in the bucket");
    }
    if is_md5(&listed.etag) && !listed.etag.eq_ignore_ascii_case(&entry.md5) {
        return Some("different bytes in the bucket");
    }
    match known {
        None => Some("not in the last sync's manifest"),
        Some(known) if known != entry => Some("changed"),
        Some(_) => None,
    }
}

pub fn plan(
    local: &BTreeMap<String, Entry>,
    listing: &BTreeMap<String, Listed>,
    manifest: &Manifest,
    max_delete: usize,
) -> Plan {
    let mut p = Plan::default();
    for (key, entry) in local {
        match reason(entry, listing.get(key), manifest.files.get(key)) {
            None => p.skipped.push(key.clone()),
            Some(why) => {
                p.reasons.insert(key.clone(), why);
                if entry.fingerprinted { p.assets.push(key.clone()) } else { p.pages.push(key.clone()) }
            }
        }
    }
    let strays = listing.keys().filter(|key| !local.contains_key(*key)).cloned();
    for (i, key) in strays.enumerate() {
        if i < max_delete { p.deletes.push(key) } else { p.kept.push(key) }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str, fingerprinted: bool) -> Entry {
        Entry {
            sha256: format!("sha-{body}"),
            md5: site_bundle::md5_hex(body.as_bytes()),
            size: body.len() as u64,
            content_type: "text/html".into(),
            cache_control: "no-cache".into(),
            fingerprinted,
        }
    }

    fn listed(body: &str) -> Listed {
        Listed { size: body.len() as u64, etag: site_bundle::md5_hex(body.as_bytes()) }
    }

    /// Renders a plan as `key: reason` lines, deletes and kept strays.
    fn check(
        local: &[(&str, &str, bool)],
        bucket: &[(&str, &str)],
        known: &[(&str, &str)],
        max_delete: usize,
        expect: &expect_test::Expect,
    ) {
        let local: BTreeMap<String, Entry> = local.iter().map(|(k, b, f)| (k.to_string(), entry(b, *f))).collect();
        let listing: BTreeMap<String, Listed> = bucket.iter().map(|(k, b)| (k.to_string(), listed(b))).collect();
        let manifest = Manifest {
            version: 2,
            files: known.iter().map(|(k, b)| (k.to_string(), entry(b, k.contains(".1")))).collect(),
            pending: None,
        };
        let p = plan(&local, &listing, &manifest, max_delete);
        let mut out: Vec<String> = p.uploads().map(|k| format!("upload {k}: {}", p.reasons[k])).collect();
        out.extend(p.skipped.iter().map(|k| format!("skip {k}")));
        out.extend(p.deletes.iter().map(|k| format!("delete {k}")));
        out.extend(p.kept.iter().map(|k| format!("keep {k} (over --max-delete)")));
        expect.assert_eq(&out.join("\n"));
    }

    #[test]
    fn an_unchanged_site_uploads_nothing() {
        check(
            &[("index.html", "v1", false), ("a.1.js", "js", true)],
            &[("index.html", "v1"), ("a.1.js", "js")],
            &[("index.html", "v1"), ("a.1.js", "js")],
            100,
            &expect_test::expect![[r#"
                skip a.1.js
                skip index.html"#]],
        );
    }

    #[test]
    fn what_someone_changed_in_the_bucket_by_hand_is_put_back_and_strays_go() {
        check(
            &[("index.html", "v1", false), ("a.1.js", "js", true), ("robots.txt", "r", false)],
            // a.1.js deleted by hand, index.html overwritten (same size), notes.txt added.
            &[("index.html", "v9"), ("robots.txt", "r"), ("notes.txt", "hand-made")],
            &[("index.html", "v1"), ("a.1.js", "js"), ("robots.txt", "r")],
            100,
            &expect_test::expect![[r#"
                upload a.1.js: missing from the bucket
                upload index.html: different bytes in the bucket
                skip robots.txt
                delete notes.txt"#]],
        );
    }

    #[test]
    fn an_interrupted_sync_is_finished_by_the_next_run() {
        // Release 2 was half uploaded (b.2.js) and its manifest never written; redeploying release 1
        // must restore index.html and remove b.2.js, though the manifest still says release 1.
        check(
            &[("index.html", "v1", false), ("a.1.js", "js", true)],
            &[("index.html", "v2"), ("a.1.js", "js"), ("b.2.js", "new")],
            &[("index.html", "v1"), ("a.1.js", "js")],
            100,
            &expect_test::expect![[r#"
                upload index.html: different bytes in the bucket
                skip a.1.js
                delete b.2.js"#]],
        );
    }

    #[test]
    fn deletions_stop_at_the_cap_and_the_rest_wait() {
        check(
            &[("index.html", "v1", false)],
            &[("index.html", "v1"), ("x1", ""), ("x2", ""), ("x3", "")],
            &[("index.html", "v1")],
            2,
            &expect_test::expect![[r#"
                skip index.html
                delete x1
                delete x2
                keep x3 (over --max-delete)"#]],
        );
    }

    #[test]
    fn a_header_change_alone_re_uploads() {
        let mut local = BTreeMap::from([("index.html".to_string(), entry("v1", false))]);
        local.get_mut("index.html").unwrap().cache_control = "max-age=60".into();
        let listing = BTreeMap::from([("index.html".to_string(), listed("v1"))]);
        let manifest = Manifest {
            version: 2,
            files: BTreeMap::from([("index.html".to_string(), entry("v1", false))]),
            pending: None,
        };
        let p = plan(&local, &listing, &manifest, 100);
        assert_eq!(p.pages, ["index.html"]);
        assert_eq!(p.reasons["index.html"], "changed");
    }
}
