//! Synthetic API Gateway REST proxy events, decoded by lambda_http exactly as on Lambda: the
//! Cognito claims in `requestContext.authorizer.claims` identify the caller, and the stage
//! prefix lambda_http adds to the path is handled.

use crate::support::{Api, stores};
use http::StatusCode;
use serde_json::{Value, json};

fn event(method: &str, path: &str, sub: Option<&str>, body: Option<Value>) -> String {
    let mut authorizer = json!({});
    if let Some(sub) = sub {
        authorizer = json!({"claims": {"sub": sub, "cognito:username": "someone", "email": "someone@example.test", "email_verified": "true"}});
    }
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com",
                    "X-User-Id": "forged"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["abc123.execute-api.us-east-1.amazonaws.com"],
                              "X-User-Id": ["forged"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "resourceId": "abc", "resourcePath": "/{proxy+}", "httpMethod": method,
            "extendedRequestId": "x", "requestTime": "27/Nov/2026:07:00:00 +0000",
            "path": format!("/prod{path}"), "accountId": "123456789012", "protocol": "HTTP/1.1",
            "stage": "prod", "domainPrefix": "abc123", "requestTimeEpoch": 1795000000000i64,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.1", "userAgent": "test"},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "apiId": "abc123",
            "authorizer": authorizer,
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false,
    })
    .to_string()
}

#[tokio::test]
async fn rest_api_events_with_cognito_claims() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let sub = testkit::unique_name("sub-");

    let request = lambda_http::request::from_str(&event(
        "POST",
        "/v1/notes",
        Some(&sub),
        Some(json!({"title": "t", "body": "b"})),
    ))
    .unwrap();
    assert_eq!(request.uri().path(), "/prod/v1/notes", "lambda_http adds the stage");
    let created = api.send(request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.json["id"].as_str().unwrap().to_string();

    let request = lambda_http::request::from_str(&event("GET", &format!("/v1/notes/{id}"), Some(&sub), None)).unwrap();
    let got = api.send(request).await;
    assert_eq!((got.status, got.json["title"].clone()), (StatusCode::OK, json!("t")));

    // Another user's claims do not reach it; no claims at all is 401 whatever the headers say.
    let request =
        lambda_http::request::from_str(&event("GET", &format!("/v1/notes/{id}"), Some("someone-else"), None)).unwrap();
    assert_eq!(api.send(request).await.status, StatusCode::NOT_FOUND);
    let request = lambda_http::request::from_str(&event("GET", "/v1/notes", None, None)).unwrap();
    assert_eq!(api.send(request).await.status, StatusCode::UNAUTHORIZED);

    let request = lambda_http::request::from_str(&event("GET", "/v1/health", None, None)).unwrap();
    assert_eq!(api.send(request).await.status, StatusCode::OK);
}
