//! Scoped API tokens with their one-shot secret kept out of `Debug`.
//!
//! `POST /api-tokens` and the rotate call return the token's secret once. The generated
//! `types::ApiTokenWithSecret` holds it as a plain `String` (and prints it in `Debug`); these
//! helpers move it into a [`Secret`] straight away.

use crate::error::Error;
use crate::session::Session;
use crate::types;
use brokerkit_runtime::Reply;
use brokerkit_runtime::Secret;

/// A created or rotated API token: its metadata, and the secret to hand to the integration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuedApiToken {
    /// The secret; shown once by the server. `Debug` prints `***`.
    pub token: Secret,
    pub id: i64,
    pub name: String,
    pub token_prefix: String,
    pub token_last4: String,
    pub scopes: Vec<String>,
    pub status: types::ApiTokenStatus,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ip_allowlist: Option<Vec<String>>,
    pub rate_limit: Option<i64>,
}

impl From<types::ApiTokenWithSecret> for IssuedApiToken {
    fn from(t: types::ApiTokenWithSecret) -> Self {
        Self {
            token: t.token,
            id: t.id,
            name: t.name,
            token_prefix: t.token_prefix,
            token_last4: t.token_last4,
            scopes: t.scopes,
            status: t.status,
            expires_at: t.expires_at,
            ip_allowlist: t.ip_allowlist,
            rate_limit: t.rate_limit,
        }
    }
}

impl Session {
    /// Creates a scoped API token (`POST /api-tokens`).
    pub async fn create_api_token(
        &self,
        request: types::ApiTokenCreateRequest,
    ) -> Result<Reply<IssuedApiToken>, Error> {
        let reply = self
            .call(|c| {
                let body = request.clone();
                async move { c.create_api_token().body(body).send().await }
            })
            .await?;
        Ok(reply.map(IssuedApiToken::from))
    }

    /// Rotates an API token's secret (unverified route `POST /api-tokens/{id}/rotate`).
    pub async fn rotate_api_token(&self, token_id: i64) -> Result<Reply<IssuedApiToken>, Error> {
        let reply = self
            .call(|c| async move { c.rotate_api_token().token_id(token_id).send().await })
            .await?;
        Ok(reply.map(IssuedApiToken::from))
    }
}
