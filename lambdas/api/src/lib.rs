//! The notes HTTP API: one axum [`router`], served by `lambda_http` on Lambda (see `main.rs`) and,
//! locally, by the dev server (`lambdas/dev`), which builds an [`AppState`] of its own stores and
//! calls [`identity::with_claims`] on each request it authenticated, exactly where API Gateway's
//! Cognito authorizer puts the claims (requests without them get 401).

pub mod attachments;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod identity;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use notes_core::ports::{Activity, Blobs, Cache, Notes, Search};

pub use identity::{Claims, with_claims};

use crate::error::ApiError;

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The stores behind the API, built once per process.
#[derive(Clone)]
pub struct AppState {
    pub notes: Arc<dyn Notes>,
    pub activity: Arc<dyn Activity>,
    /// The search index (PostgreSQL), derived from the notes' stream.
    pub search: Arc<dyn Search>,
    pub blobs: Arc<dyn Blobs>,
    /// `None`: no cache configured (every read goes to the notes store).
    pub cache: Option<Arc<dyn Cache>>,
    /// The one origin CORS allows (`SITE_ORIGIN`); `None` allows no cross-origin request.
    pub site_origin: Option<String>,
}

impl AppState {
    /// Real stores from the environment (see `notes_core::config`): `NOTES_TABLE`,
    /// `APP_DATA_BUCKET`, `DATABASE_URL` or `DB_*`, `REDIS_URL` or `REDIS_HOST`/`REDIS_PORT`/
    /// `REDIS_USER`/`REDIS_CACHE_NAME` (optional: no cache without them), `SITE_ORIGIN`,
    /// `AWS_ENDPOINT_URL`.
    /// `init` gets the phases `sdk_config` and `clients`.
    pub async fn from_env(init: &mut notes_core::init::InitPhases) -> Result<AppState, String> {
        use notes_core::config;
        config::install_crypto_provider();
        let table = config::var("NOTES_TABLE").ok_or("NOTES_TABLE is not set")?;
        let bucket = config::var("APP_DATA_BUCKET").ok_or("APP_DATA_BUCKET is not set")?;
        let sdk = config::sdk_config().await;
        init.mark("sdk_config");
        let pg = config::pg_target(&sdk).ok_or("neither DATABASE_URL nor DB_HOST is set")?;
        let cache: Option<Arc<dyn Cache>> = match config::redis_target(&sdk) {
            Some(target) => {
                Some(Arc::new(notes_core::cache::RedisCache::from_target(target).map_err(|e| e.to_string())?))
            }
            None => None,
        };
        let pg = Arc::new(notes_core::postgres::Pg::new(pg));
        let state = AppState {
            notes: Arc::new(notes_core::dynamo::DynamoNotes::lazy(sdk.clone(), table)),
            activity: Arc::new(notes_core::postgres::PgActivity::new(pg.clone())),
            search: Arc::new(notes_core::search::PgSearch::new(pg)),
            blobs: Arc::new(notes_core::blobs::S3Blobs::lazy(sdk, bucket)),
            cache,
            site_origin: config::var("SITE_ORIGIN"),
        };
        init.mark("clients");
        Ok(state)
    }
}

/// Every route: (path, method, handler). [`router`] is built from this table and the OpenAPI
/// test compares it with `openapi.json`, so the two cannot drift apart.
fn routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    use attachments::*;
    use handlers::*;
    vec![
        ("/v1/health", Method::GET, get(health)),
        ("/v1/openapi.json", Method::GET, get(openapi)),
        ("/v1/notes", Method::POST, post(create_note)),
        ("/v1/notes", Method::GET, get(list_notes)),
        ("/v1/notes/{id}", Method::GET, get(get_note)),
        ("/v1/notes/{id}", Method::PUT, put(update_note)),
        ("/v1/notes/{id}", Method::DELETE, delete(delete_note)),
        ("/v1/notes/{id}/attachments", Method::POST, post(create_attachment)),
        ("/v1/notes/{id}/attachments", Method::GET, get(list_attachments)),
        ("/v1/notes/{id}/attachments/{attachment_id}", Method::DELETE, delete(delete_attachment)),
        ("/v1/notes/{id}/attachments/{attachment_id}/confirm", Method::POST, post(confirm_attachment)),
        ("/v1/activity", Method::GET, get(activity)),
        ("/v1/stats", Method::GET, get(stats)),
    ]
}

/// `(method, path)` of every route the router serves, in OpenAPI path syntax.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes().into_iter().map(|(path, method, _)| (method, path)).collect()
}

/// The API. Same router on Lambda and locally.
pub fn router(state: AppState) -> Router {
    let origin = state.site_origin.clone();
    let mut api = Router::new();
    for (path, _, handler) in routes() {
        api = api.route(path, handler);
    }
    let api = api
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource")
        })
        .with_state(state);
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(log_request))
        .layer(axum::middleware::from_fn_with_state(origin, cors))
        .map_request(strip_stage)
        .service(api);
    Router::new().fallback_service(service)
}

/// REST API paths arrive as `/<stage>/v1/...` when called through the execute-api URL
/// (`lambda_http` adds the stage from the request context); routes are stage-less.
fn strip_stage(mut req: Request) -> Request {
    let stage = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let path = req.uri().path();
    let prefix = format!("/{stage}");
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "authorization, content-type, if-match";
const EXPOSED_HEADERS: &str = "etag, location, retry-after";

/// CORS for the configured site origin only; answers preflights (OPTIONS) itself.
async fn cors(State(origin): State<Option<String>>, req: Request, next: Next) -> Response {
    let request_origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let allowed = match (&origin, &request_origin) {
        (Some(site), Some(from)) => site == from,
        _ => false,
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if allowed {
            let h = r.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        r
    } else {
        next.run(req).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if allowed && let Some(Ok(value)) = request_origin.map(|o| HeaderValue::from_str(&o)) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    }
    response
}

/// One structured log line per request, with the Lambda request id when there is one.
async fn log_request(req: Request, next: Next) -> Response {
    use lambda_http::RequestExt;
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        request_id,
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
