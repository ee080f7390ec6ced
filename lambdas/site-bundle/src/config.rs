//! `/config.json`: what the front end reads at start-up to find the API and how to sign in. The
//! deploy writes it from the stack outputs (Cognito), the dev server serves it (dev sign-in); both
//! through this one type, so the shape `static/assets/` expects cannot drift between them.

use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SiteConfig {
    /// The API's origin, e.g. `https://api.example.org`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    pub auth: Auth,
}

/// How the front end signs people in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// Cognito's hosted UI (authorization code + PKCE).
    Cognito {
        /// The hosted UI's domain, e.g. `notes-dev-123456789012.auth.us-east-1.amazoncognito.com`.
        #[serde(skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
        #[serde(rename = "clientId", skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(rename = "redirectUri", skip_serializing_if = "Option::is_none")]
        redirect_uri: Option<String>,
        #[serde(rename = "logoutUri", skip_serializing_if = "Option::is_none")]
        logout_uri: Option<String>,
    },
    /// The dev server's sign-in: `POST <tokenUrl> {"username"}` returns an ID token.
    Dev {
        #[serde(rename = "tokenUrl")]
        token_url: String,
    },
}

impl SiteConfig {
    /// The bytes served and uploaded: pretty JSON and a trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the site config serializes");
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_have_the_shape_the_front_end_reads() {
        let dev = SiteConfig {
            api_url: Some("http://127.0.0.1:8081".into()),
            auth: Auth::Dev { token_url: "http://127.0.0.1:8081/dev/token".into() },
        };
        assert_eq!(
            serde_json::to_value(&dev).unwrap(),
            serde_json::json!({"apiUrl": "http://127.0.0.1:8081", "auth": {"mode": "dev", "tokenUrl": "http://127.0.0.1:8081/dev/token"}})
        );
        let cognito = SiteConfig {
            api_url: Some("https://api.x.org".into()),
            auth: Auth::Cognito {
                domain: Some("d".into()),
                client_id: Some("c".into()),
                redirect_uri: Some("https://www.x.org/".into()),
                logout_uri: Some("https://www.x.org/".into()),
            },
        };
        assert_eq!(
            serde_json::to_value(&cognito).unwrap(),
            serde_json::json!({"apiUrl": "https://api.x.org", "auth": {"mode": "cognito", "domain": "d", "clientId": "c", "redirectUri": "https://www.x.org/", "logoutUri": "https://www.x.org/"}})
        );
    }
}
