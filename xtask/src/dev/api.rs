//! The one place that builds the API for the dev server: the notes API router on in-memory stores.

use std::sync::Arc;

use axum::Router;
use notes_core::memory::MemoryBlobs;

/// What the dev server needs from the API side.
pub struct Api {
    /// The same axum router the `api` Lambda runs, on in-memory adapters.
    pub router: Router,
    /// The in-memory blob store behind the router: the dev server serves its presigned URLs.
    pub blobs: Arc<MemoryBlobs>,
}

/// The API on in-memory adapters. `site_origin` is the origin CORS allows; `blobs_base_url` is
/// where presigned upload/download URLs point (the dev server's `/_blobs`).
pub fn in_memory(site_origin: &str, blobs_base_url: &str) -> anyhow::Result<Api> {
    let _ = site_origin;
    let blobs = Arc::new(MemoryBlobs::new(blobs_base_url));
    // The notes API crate (issue 4) has no library yet on this branch: until it is merged, every API
    // route answers 503 with an error saying so, rather than pretending.
    let router = Router::new().fallback(|| async {
        (
            http::StatusCode::SERVICE_UNAVAILABLE,
            [(http::header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"code":"not_merged","message":"the notes API (lambdas/api) is not merged into this build yet"}}"#,
        )
    });
    Ok(Api { router, blobs })
}
