//! The one place that builds the API for the dev server: the notes API router (the same
//! `notes_api::router` the `api` Lambda runs) on in-memory stores.

use std::sync::Arc;

use axum::Router;
use notes_core::memory::MemoryBlobs;

/// What the dev server needs from the API side.
pub struct Api {
    /// The same axum router the `api` Lambda runs, on in-memory adapters.
    pub router: Router,
    /// The in-memory blob store behind the router, whose presigned URLs the dev server serves
    /// (`None` with real backends: moto serves them).
    pub blobs: Option<Arc<MemoryBlobs>>,
}

/// The API on in-memory adapters. `site_origin` is the origin the router's CORS allows;
/// `blobs_base_url` is where presigned upload/download URLs point (the dev server's `/_blobs`).
pub fn in_memory(site_origin: &str, blobs_base_url: &str) -> anyhow::Result<Api> {
    let (state, blobs) = notes_api::AppState::in_memory(blobs_base_url, Some(site_origin.to_string()));
    Ok(Api { router: notes_api::router(state), blobs: Some(blobs) })
}
