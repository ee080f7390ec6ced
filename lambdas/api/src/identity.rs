//! The caller's identity: only the claims API Gateway's Cognito authorizer put in the request
//! context (never a header the client controls).
//!
//! On Lambda, `lambda_http` inserts a [`lambda_http::request::RequestContext`] extension into every
//! request; for a REST API it is `RequestContext::ApiGatewayV1(ctx)` and the authorizer's claims
//! are at `ctx.authorizer.fields["claims"]` (`{"sub": "...", "cognito:username": "...", "email":
//! "..."}`). A local server (`cargo xtask dev`) that authenticates requests itself inserts exactly
//! that extension with [`with_claims`].

use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use notes_core::UserId;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The Cognito claims the API uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// The user's stable id (`sub`): the only key data is scoped by.
    pub sub: String,
    /// `cognito:username`, if present.
    pub username: Option<String>,
    pub email: Option<String>,
}

/// Sets the request context API Gateway's Cognito authorizer would set: a
/// `RequestContext::ApiGatewayV1` whose `authorizer` holds `{"claims": {...}}`. Replaces any
/// request context already there. For local servers and tests only; in AWS, API Gateway does it.
pub fn with_claims<B>(request: &mut http::Request<B>, claims: &Claims) {
    let mut map = Map::new();
    map.insert("sub".into(), Value::String(claims.sub.clone()));
    if let Some(username) = &claims.username {
        map.insert("cognito:username".into(), Value::String(username.clone()));
    }
    if let Some(email) = &claims.email {
        map.insert("email".into(), Value::String(email.clone()));
    }
    let mut context = match request.extensions_mut().remove::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => context,
        _ => ApiGatewayProxyRequestContext::default(),
    };
    context.authorizer.fields.insert("claims".into(), Value::Object(map));
    request.extensions_mut().insert(RequestContext::ApiGatewayV1(context));
}

/// The claims in a request's API Gateway context, if any.
pub fn claims_of(extensions: &http::Extensions) -> Option<Claims> {
    let Some(RequestContext::ApiGatewayV1(context)) = extensions.get::<RequestContext>() else {
        return None;
    };
    let claims = context.authorizer.fields.get("claims")?.as_object()?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    Some(Claims { sub: text("sub")?, username: text("cognito:username"), email: text("email") })
}

/// Extractor: the authenticated caller, or 401.
#[derive(Debug, Clone)]
pub struct Caller(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, ApiError> {
        claims_of(&parts.extensions)
            .and_then(|c| UserId::new(&c.sub))
            .map(Caller)
            .ok_or_else(|| ApiError::new(http::StatusCode::UNAUTHORIZED, "unauthorized", "authentication required"))
    }
}
