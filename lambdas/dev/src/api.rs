//! The one place that builds the API for the dev server's default mode: the notes router (the same
//! `notes_api::router` the `api` Lambda runs) on the in-memory stores of `notes-memory`.

use std::sync::Arc;

use axum::Router;
use notes_memory::{MemoryActivity, MemoryBlobs, MemoryCache, MemoryNotes, MemorySearch};

/// What the dev server needs from the API side.
pub struct Api {
    /// The same axum router the `api` Lambda runs.
    pub router: Router,
    /// The in-memory blob store behind the router, whose presigned URLs the dev server serves
    /// (`None` with real backends: moto serves them).
    pub blobs: Option<Arc<MemoryBlobs>>,
}

/// The API on in-memory adapters: note writes feed the activity log and the search index directly
/// (as the stream does in AWS). `site_origin` is the origin the router's CORS allows;
/// `blobs_base_url` is where presigned upload/download URLs point (the dev server's `/_blobs`),
/// signed with a key made for this process.
pub fn in_memory(site_origin: &str, blobs_base_url: &str) -> Api {
    let activity = Arc::new(MemoryActivity::new());
    let search = Arc::new(MemorySearch::new());
    let mut secret = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret).expect("the OS has randomness");
    let blobs = Arc::new(MemoryBlobs::new(blobs_base_url, secret));
    let state = notes_api::AppState {
        notes: Arc::new(MemoryNotes::with_stream(activity.clone(), search.clone())),
        activity,
        search,
        blobs: blobs.clone(),
        cache: Some(Arc::new(MemoryCache::new())),
        site_origin: Some(site_origin.to_string()),
    };
    Api { router: notes_api::router(state), blobs: Some(blobs) }
}
