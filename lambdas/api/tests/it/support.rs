//! Test harness: the real router on real stores (DynamoDB and S3 on moto, PostgreSQL, Redis),
//! driven with requests as API Gateway hands them to the function.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use notes_api::{AppState, Claims, router, with_claims};
use notes_core::blobs::S3Blobs;
use notes_core::cache::RedisCache;
use notes_core::dynamo::DynamoNotes;
use notes_core::postgres::{Pg, PgActivity};
use notes_core::search::PgSearch;
use serde_json::Value;
use tower::ServiceExt;

pub const SITE: &str = "https://notes.example.test";

pub struct Stores {
    pub state: AppState,
    /// Kept alive with the stores: dropping it drops the test's database.
    _db: testkit::pg::TestDb,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

/// Fresh table, bucket and database on the given moto; the real Redis.
pub async fn stores_on(moto: &testkit::moto::Moto) -> Stores {
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let ddb = testkit::aws::dynamodb_client(&config);
    let table = testkit::unique_name("notes-");
    notes_core::dynamo_setup::create_table(&ddb, &table).await.unwrap();
    let s3 = testkit::aws::s3_client(&config);
    let bucket = testkit::unique_name("data-");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let db = testkit::pg::TestDb::create().await;
    let pg = Arc::new(Pg::from_url(db.url()));
    pg.migrate().await.unwrap();
    let state = AppState {
        notes: Arc::new(DynamoNotes::new(ddb, table)),
        activity: Arc::new(PgActivity::new(pg.clone())),
        search: Arc::new(PgSearch::new(pg.clone())),
        blobs: Arc::new(S3Blobs::new(s3.clone(), &bucket)),
        cache: Some(Arc::new(RedisCache::new(&testkit::redis_url()).unwrap())),
        site_origin: Some(SITE.into()),
    };
    Stores { state, _db: db, s3, bucket }
}

pub async fn stores() -> Stores {
    stores_on(testkit::moto::Moto::shared()).await
}

pub fn user() -> String {
    testkit::unique_name("user-")
}

pub struct Api {
    pub router: Router,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `"status code"` (the error code, if any): compact for table-driven checks.
    pub fn summary(&self) -> String {
        match self.json.pointer("/error/code").and_then(Value::as_str) {
            Some(code) => format!("{} {code}", self.status.as_u16()),
            None => self.status.as_u16().to_string(),
        }
    }
}

/// A request as it reaches the router.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub user: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Call {
    pub fn new(method: Method, path: &str) -> Call {
        Call { method, path: path.into(), user: None, headers: Vec::new(), body: None }
    }
    pub fn get(path: &str) -> Call {
        Call::new(Method::GET, path)
    }
    pub fn post(path: &str, json: Value) -> Call {
        Call::new(Method::POST, path).json(json)
    }
    pub fn put(path: &str, json: Value) -> Call {
        Call::new(Method::PUT, path).json(json)
    }
    pub fn delete(path: &str) -> Call {
        Call::new(Method::DELETE, path)
    }
    #[allow(clippy::needless_pass_by_value)] // takes `json!(...)` directly
    pub fn json(self, json: Value) -> Call {
        let body = serde_json::to_vec(&json).unwrap();
        self.raw("application/json", body)
    }
    #[allow(clippy::needless_pass_by_value)]
    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Call {
        self.headers.push(("content-type".into(), content_type.into()));
        self.body = Some(body);
        self
    }
    pub fn by(mut self, user: &str) -> Call {
        self.user = Some(user.into());
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn request(self) -> Request<Body> {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder.body(self.body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        if let Some(user) = self.user {
            with_claims(&mut request, &Claims { sub: user, username: None, email: None });
        }
        request
    }
}

impl Api {
    pub fn new(state: AppState) -> Api {
        Api { router: router(state) }
    }

    /// Sends any request body type the router accepts (axum's, or lambda_http's as on Lambda).
    pub async fn send<B>(&self, request: Request<B>) -> Reply
    where
        B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, json }
    }

    pub async fn call(&self, call: Call) -> Reply {
        self.send(call.request()).await
    }

    /// Creates a note for `user` and returns its JSON.
    pub async fn create(&self, user: &str, title: &str) -> Value {
        let reply =
            self.call(Call::post("/v1/notes", serde_json::json!({"title": title, "body": "text"})).by(user)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.json
    }
}
