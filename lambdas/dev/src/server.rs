//! The two local servers: the site (like `www`: CloudFront + S3) and the API (like `api`: API
//! Gateway with its Cognito authorizer, in front of the API Lambda's router).
//!
//! Site: the processed bundle of `static/` from memory (swapped atomically on rebuild), the
//! production security headers (CSP adjusted to the local API origin), `/config.json` in dev
//! sign-in mode, and CloudFront's SPA behaviour (an unknown path answers `index.html` with 200).
//!
//! API: `POST /dev/token` (dev sign-in), `/_blobs/...` (the in-memory bucket behind presigned URLs,
//! which checks their signature, expiry, content type and size as S3 does, and answers downloads
//! with the signed `Content-Disposition`), and everything else handed to the notes router after the
//! request went through what API Gateway does: the whole body is read first (up to API Gateway's
//! 10 MiB; above, 413 with `Connection: close`), so an early answer (413, 415) never leaves an
//! unread body on a kept-alive connection; a valid `Authorization: Bearer <dev token>` becomes the Cognito authorizer claims in the
//! `RequestContext::ApiGatewayV1` extension (the same value lambda_http inserts on Lambda); a
//! missing or invalid token passes through with no claims, and the API answers 401 itself. CORS
//! allows only the site origin, with preflights answered by the gateway as in production.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use notes_memory::MemoryBlobs;
use serde_json::json;

use super::token::{self, Signer};

/// API Gateway's payload limit: the gateway reads (buffers) every request body up to this.
pub const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

/// Headers the API may receive from the site, and those the site's scripts may read.
pub const ALLOW_HEADERS: &str = "Authorization,Content-Type,If-Match";
pub const ALLOW_METHODS: &str = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
pub const EXPOSE_HEADERS: &str = "ETag,Location,Retry-After";

/// One file of the served bundle.
#[derive(Clone)]
pub struct SiteFile {
    pub bytes: Bytes,
    pub content_type: String,
    pub cache_control: String,
}

/// The site bundle in memory, path (no leading slash) -> file.
pub type SiteFiles = HashMap<String, SiteFile>;

/// Shared, swappable site bundle.
#[derive(Clone, Default)]
pub struct Site(Arc<RwLock<Arc<SiteFiles>>>);

impl Site {
    pub fn new(files: SiteFiles) -> Site {
        Site(Arc::new(RwLock::new(Arc::new(files))))
    }

    pub fn replace(&self, files: SiteFiles) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(files);
    }

    fn current(&self) -> Arc<SiteFiles> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Origins of the two servers.
#[derive(Clone)]
pub struct Origins {
    /// e.g. `http://127.0.0.1:8080`, the origin printed and put in CORS.
    pub site: String,
    /// The other loopback spelling of the same site (`http://localhost:8080`), also allowed.
    pub site_alias: String,
    /// e.g. `http://127.0.0.1:8081`.
    pub api: String,
    /// Where presigned URLs point when that is not the API server (moto with `--backends local`).
    pub blobs: Option<String>,
}

impl Origins {
    pub fn new(site: SocketAddr, api: SocketAddr) -> Origins {
        Origins {
            site: format!("http://127.0.0.1:{}", site.port()),
            site_alias: format!("http://localhost:{}", site.port()),
            api: format!("http://127.0.0.1:{}", api.port()),
            blobs: None,
        }
    }

    fn allows(&self, origin: &str) -> bool {
        origin == self.site || origin == self.site_alias
    }

    /// The CSP of the production site (cloud/stack.yaml), with the local API origin in place of the
    /// API, Cognito and bucket hosts, and `'self'` in `connect-src` for `/config.json`. No HSTS and no
    /// `upgrade-insecure-requests`: this is plain HTTP on loopback.
    pub fn csp(&self) -> String {
        let api = match &self.blobs {
            Some(blobs) => format!("{} {blobs}", self.api),
            None => self.api.clone(),
        };
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {api}; font-src 'self'; \
             connect-src 'self' {api}; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Site
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct SiteState {
    site: Site,
    origins: Origins,
}

pub fn site_router(site: Site, origins: Origins) -> Router {
    Router::new().fallback(serve_site).with_state(SiteState { site, origins })
}

async fn serve_site(State(state): State<SiteState>, method: Method, uri: http::Uri) -> Response {
    let mut headers = HeaderMap::new();
    let csp = HeaderValue::from_str(&state.origins.csp()).expect("ASCII");
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if method != Method::GET && method != Method::HEAD {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (StatusCode::METHOD_NOT_ALLOWED, headers).into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if path == "config.json" {
        let config = json!({
            "apiUrl": state.origins.api,
            "auth": {"mode": "dev", "tokenUrl": format!("{}/dev/token", state.origins.api)},
        });
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return (headers, config.to_string()).into_response();
    }
    let files = state.site.current();
    let path = if path.is_empty() { "index.html" } else { path };
    // CloudFront answers a missing object with /index.html and 200 (the app routes by hash).
    let Some(file) = files.get(path).or_else(|| files.get("index.html")) else {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        return (StatusCode::SERVICE_UNAVAILABLE, headers, "the site bundle is empty: see the dev server's output\n")
            .into_response();
    };
    if let Ok(v) = HeaderValue::from_str(&file.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()));
        return (headers, Body::empty()).into_response();
    }
    (headers, file.bytes.clone()).into_response()
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct ApiState {
    signer: Signer,
    origins: Origins,
    blobs: Option<Arc<MemoryBlobs>>,
}

/// The API server: dev routes, the blob endpoint and the notes router behind the gateway layer.
pub fn api_router(notes: Router, signer: Signer, origins: Origins, blobs: Option<Arc<MemoryBlobs>>) -> Router {
    let state = ApiState { signer, origins, blobs };
    let gateway = notes
        .layer(middleware::from_fn_with_state(state.clone(), authorizer))
        .layer(middleware::from_fn_with_state(GATEWAY_MAX_BODY, buffered));
    let blob_limit = usize::try_from(notes_core::MAX_ATTACHMENT_BYTES).unwrap_or(usize::MAX);
    Router::new()
        .route("/dev/token", post(issue_token).layer(middleware::from_fn_with_state(64 * 1024, buffered)))
        .route(
            "/_blobs/{*key}",
            any(blob)
                .layer(DefaultBodyLimit::max(blob_limit))
                .layer(middleware::from_fn_with_state(blob_limit, buffered)),
        )
        .with_state(state.clone())
        .fallback_service(gateway)
        .layer(middleware::from_fn_with_state(state, cors))
}

/// Reads the whole request body (at most `limit` bytes) before anything answers, as API Gateway
/// and S3 do: a handler that answers without reading it (415, 413) must not leave the rest of it
/// on a kept-alive connection. Over the limit: 413 and `Connection: close` (the unread rest dies
/// with the connection, and the client knows it).
async fn buffered(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(_) => {
            let mut response =
                error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &format!("request body over {limit} bytes"));
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// What API Gateway's Cognito authorizer does: a valid token's claims go into the request context.
/// Unlike API Gateway, a request without a valid token is not refused here but passed on without
/// claims, so the API's own 401 is what the client sees (and what the tests exercise).
async fn authorizer(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let claims = bearer(request.headers()).and_then(|token| state.signer.verify(token));
    let context = token::request_context(request.method(), request.uri().path(), claims.as_ref());
    request.extensions_mut().insert(RequestContext::ApiGatewayV1(context));
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// CORS as the production API does it: preflights are answered by the gateway (never reach the
/// router); other responses get `Access-Control-Allow-Origin` for the site origin only, unless the
/// router already set its own CORS headers.
async fn cors(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let allowed = origin.as_deref().filter(|o| state.origins.allows(o)).map(str::to_string);
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(request).await };
    let headers = response.headers_mut();
    append_vary_origin(headers);
    let Some(origin) = allowed else {
        return response;
    };
    if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        return response;
    }
    let value = HeaderValue::from_str(&origin).expect("an allowed origin is ASCII");
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if preflight {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    } else {
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    }
    response
}

fn append_vary_origin(headers: &mut HeaderMap) {
    let has = headers
        .get_all(header::VARY)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.to_ascii_lowercase().contains("origin")));
    if !has {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// `POST /dev/token {"username"}` -> `{"id_token", "expires_in", "token_type"}`.
async fn issue_token(State(state): State<ApiState>, body: Bytes) -> Response {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "malformed_json", "Send a JSON object like {\"username\": \"alice\"}.");
    };
    let Some(username) = value.get("username").and_then(|u| u.as_str()) else {
        return error(StatusCode::BAD_REQUEST, "invalid_username", "The field \"username\" is required.");
    };
    if !token::valid_username(username) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_username",
            "Use 1 to 64 letters, digits, dots, dashes or underscores.",
        );
    }
    let id_token = state.signer.issue(username, token::TTL_SECS);
    axum::Json(json!({"id_token": id_token, "expires_in": token::TTL_SECS, "token_type": "Bearer"})).into_response()
}

/// The in-memory bucket behind the presigned URLs `MemoryBlobs` hands out: the URL's signature
/// and expiry are checked; `PUT` must carry the signed content type and exactly the signed size
/// and stores the bytes; `GET`/`HEAD` return them with the signed `Content-Disposition`.
async fn blob(
    State(state): State<ApiState>,
    method: Method,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(blobs) = &state.blobs else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "No blob store here: presigned URLs point at the real bucket.",
        );
    };
    let grant = match blobs.verify(&key, &query) {
        Ok(grant) => grant,
        Err(why) => return error(StatusCode::FORBIDDEN, "access_denied", why),
    };
    let allowed = match method {
        Method::PUT => grant.method == "PUT",
        Method::GET | Method::HEAD => grant.method == "GET",
        _ => false,
    };
    if !allowed && matches!(method, Method::PUT | Method::GET | Method::HEAD) {
        return error(StatusCode::FORBIDDEN, "access_denied", "The URL was signed for another method.");
    }
    match method {
        Method::PUT => {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if grant.content_type.as_deref().is_some_and(|signed| signed != content_type) {
                return error(StatusCode::FORBIDDEN, "access_denied", "Content-Type is not the signed one.");
            }
            let size = body.len();
            if grant.size.is_some_and(|signed| signed != size as u64) {
                return error(StatusCode::FORBIDDEN, "access_denied", "The body is not the signed size.");
            }
            blobs.put_object(&key, content_type, body.to_vec());
            let etag =
                format!("\"{}\"", &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{key}:{size}")))[..32]);
            (StatusCode::OK, [(header::ETAG, etag)]).into_response()
        }
        Method::GET | Method::HEAD => {
            let Some((content_type, bytes)) = blobs.get_object(&key) else {
                return error(StatusCode::NOT_FOUND, "no_such_key", "The object does not exist.");
            };
            let disposition = grant.disposition.unwrap_or_else(|| "attachment".into());
            let headers = [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_DISPOSITION, disposition),
                (header::CACHE_CONTROL, "private, no-store".to_string()),
            ];
            if method == Method::HEAD {
                return (headers, [(header::CONTENT_LENGTH, bytes.len().to_string())]).into_response();
            }
            (headers, bytes).into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Use PUT, GET or HEAD."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A stand-in for the notes router that reports the identity it was given.
    fn whoami() -> Router {
        Router::new().fallback(|request: Request| async move {
            let sub = match request.extensions().get::<RequestContext>() {
                Some(RequestContext::ApiGatewayV1(ctx)) => ctx
                    .authorizer
                    .fields
                    .get("claims")
                    .and_then(|c| c.get("sub"))
                    .and_then(|s| s.as_str())
                    .map(str::to_string),
                _ => return (StatusCode::INTERNAL_SERVER_ERROR, "no request context").into_response(),
            };
            match sub {
                Some(sub) => sub.into_response(),
                None => StatusCode::UNAUTHORIZED.into_response(),
            }
        })
    }

    fn app() -> (Router, Signer, Arc<MemoryBlobs>) {
        let signer = Signer::from_bytes(&[3; 32]);
        let origins = Origins::new(([127, 0, 0, 1], 8080).into(), ([127, 0, 0, 1], 8081).into());
        let blobs = Arc::new(MemoryBlobs::new("http://127.0.0.1:8081/_blobs", [5; 32]));
        (api_router(whoami(), signer.clone(), origins, Some(blobs.clone())), signer, blobs)
    }

    async fn send(app: &Router, request: http::Request<Body>) -> (StatusCode, HeaderMap, String) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn get(path: &str) -> http::request::Builder {
        http::Request::get(path).header(header::ORIGIN, "http://127.0.0.1:8080")
    }

    #[tokio::test]
    async fn valid_tokens_become_authorizer_claims_others_pass_without() {
        let (app, signer, _) = app();
        let token = signer.issue("alice", 60);
        let (status, headers, body) = send(
            &app,
            get("/v1/notes").header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, token::sub_for("alice").as_str()));
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        assert_eq!(headers[header::ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSE_HEADERS);

        let other = Signer::from_bytes(&[4; 32]).issue("alice", 60);
        for auth in
            [None, Some(format!("Bearer {other}")), Some("Bearer garbage".to_string()), Some(format!("Basic {token}"))]
        {
            let mut request = get("/v1/notes");
            if let Some(auth) = &auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let (status, headers, _) = send(&app, request.body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(
                headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "http://127.0.0.1:8080",
                "401s are readable by the site"
            );
        }
    }

    #[tokio::test]
    async fn cors_only_for_the_site_origin_and_preflights_answered() {
        let (app, _, _) = app();
        let preflight = |origin: &str| {
            http::Request::builder()
                .method(Method::OPTIONS)
                .uri("/v1/notes/x")
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type,if-match")
                .body(Body::empty())
                .unwrap()
        };
        let (status, headers, _) = send(&app, preflight("http://127.0.0.1:8080")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("If-Match"));
        assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("PUT"));
        let (_, headers, _) = send(&app, preflight("http://localhost:8080")).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:8080");
        let (_, headers, _) = send(&app, preflight("http://evil.test")).await;
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        let (_, headers, _) = send(
            &app,
            http::Request::get("/v1/health")
                .header(header::ORIGIN, "http://127.0.0.1:9999")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(headers[header::VARY], "Origin");
    }

    #[tokio::test]
    async fn dev_token_endpoint() {
        let (app, signer, _) = app();
        let post = |body: &str| {
            http::Request::post("/dev/token")
                .header(header::ORIGIN, "http://127.0.0.1:8080")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let (status, headers, body) = send(&app, post(r#"{"username":"bob"}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let claims = signer.verify(value["id_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims["cognito:username"], "bob");
        assert_eq!(value["expires_in"], token::TTL_SECS);
        for bad in ["", "{}", r#"{"username":"a b"}"#, r#"{"username":7}"#] {
            let (status, _, body) = send(&app, post(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(body.contains("\"error\""), "{body}");
        }
    }

    /// The path and query of a presigned URL, for the router.
    fn local(url: &str) -> String {
        url.strip_prefix("http://127.0.0.1:8081").unwrap().to_string()
    }

    #[tokio::test]
    async fn blobs_enforce_the_signed_url_and_name_downloads() {
        use notes_core::ports::Blobs;
        let (app, _, blobs) = app();
        let ttl = std::time::Duration::from_secs(60);
        let up = local(&blobs.presign_upload("u/sub/n/a", "text/plain", 5, ttl).await.unwrap().url);
        let put = |url: &str, ct: &str, body: &'static str| {
            http::Request::put(url)
                .header(header::ORIGIN, "http://127.0.0.1:8080")
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap()
        };
        // The signed content type and size only.
        assert_eq!(send(&app, put(&up, "text/html", "hello")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(send(&app, put(&up, "text/plain", "hello!")).await.0, StatusCode::FORBIDDEN);
        let forged = up.replace("X-Size=5", "X-Size=6");
        assert_eq!(send(&app, put(&forged, "text/plain", "hello!")).await.0, StatusCode::FORBIDDEN);
        let later = up.replace("X-Expires=", "X-Expires=9");
        assert_eq!(send(&app, put(&later, "text/plain", "hello")).await.0, StatusCode::FORBIDDEN, "expiry is signed");
        let (status, headers, _) = send(&app, put(&up, "text/plain", "hello")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        // An upload URL does not download; a download URL does, under the file's own name.
        assert_eq!(send(&app, get(&up).body(Body::empty()).unwrap()).await.0, StatusCode::FORBIDDEN);
        let down = local(&blobs.presign_download("u/sub/n/a", "notes.txt", ttl).await.unwrap());
        let (status, headers, body) = send(&app, get(&down).body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "hello"));
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
        );
        let other = local(&blobs.presign_download("u/sub/n/b", "b", ttl).await.unwrap());
        assert_eq!(send(&app, get(&other).body(Body::empty()).unwrap()).await.0, StatusCode::NOT_FOUND);
        assert_eq!(send(&app, get("/_blobs/u/sub/n/a").body(Body::empty()).unwrap()).await.0, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn bodies_are_read_before_the_api_answers() {
        let (app, _, _) = app();
        let big = vec![b'x'; GATEWAY_MAX_BODY + 1];
        let request = http::Request::post("/v1/notes")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .unwrap();
        let (status, headers, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers[header::CONNECTION], "close");
        assert!(body.contains("payload_too_large"), "{body}");
    }

    #[tokio::test]
    async fn site_serves_config_bundle_and_spa_fallback_with_security_headers() {
        let origins = Origins::new(([127, 0, 0, 1], 8080).into(), ([127, 0, 0, 1], 8081).into());
        let file = |text: &str, ct: &str| SiteFile {
            bytes: Bytes::from(text.to_string()),
            content_type: ct.into(),
            cache_control: "no-cache".into(),
        };
        let site = Site::new(SiteFiles::from([
            ("index.html".to_string(), file("<html>", "text/html")),
            ("assets/app.0123456789.js".to_string(), file("js", "text/javascript")),
        ]));
        let app = site_router(site.clone(), origins);
        let (status, headers, body) = send(&app, http::Request::get("/config.json").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let config: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            config,
            json!({"apiUrl": "http://127.0.0.1:8081", "auth": {"mode": "dev", "tokenUrl": "http://127.0.0.1:8081/dev/token"}})
        );
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("connect-src 'self' http://127.0.0.1:8081;")
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let (_, headers, body) = send(&app, http::Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!((body.as_str(), headers[header::CONTENT_TYPE].to_str().unwrap()), ("<html>", "text/html"));
        let (status, _, body) = send(&app, http::Request::get("/no/such/page").body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "<html>"));
        let (_, _, body) =
            send(&app, http::Request::get("/assets/app.0123456789.js").body(Body::empty()).unwrap()).await;
        assert_eq!(body, "js");
        site.replace(SiteFiles::from([("index.html".to_string(), file("<html>v2", "text/html"))]));
        let (_, _, body) = send(&app, http::Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!(body, "<html>v2");
        let (status, _, _) = send(&app, http::Request::post("/").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
