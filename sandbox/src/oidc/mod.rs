//! The sandbox's OpenID Connect provider, so single sign-on can be shown and tested without
//! an identity provider: discovery, a JWKS, an authorize endpoint with a page to pick one of
//! the demo people (or decline), and a token endpoint issuing RS256-signed ID tokens with a
//! `groups` claim. Speaks the protocol a real provider does (authorization code flow, client
//! secret by HTTP Basic or form, PKCE S256 required, single-use codes bound to the client,
//! redirect URI and nonce), so Rollgate's real OIDC client runs against it unchanged.
//!
//! One client is registered: `rollgate`, with a secret made at start, allowed to redirect to
//! any loopback address (Rollgate's port is chosen after the sandbox starts).
//!
//! - `keys`: the signing key and JWT signing.
//! - `authorize`: the authorize endpoint and its page.
//! - `token`: the token endpoint.

mod authorize;
mod keys;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, response::IntoResponse};
use serde_json::json;
use tokio::sync::OnceCell;

/// A demo person of the sandbox's provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub username: &'static str,
    pub full_name: &'static str,
    pub groups: &'static [&'static str],
}

/// Who can sign in through the sandbox's provider (no passwords: its page lets you pick).
/// The embedded sandbox's configuration maps their groups to roles (see the README).
pub const PEOPLE: [Person; 4] = [
    Person { username: "olivia", full_name: "Olivia Okafor", groups: &["release-managers"] },
    Person { username: "devon", full_name: "Devon Diaz", groups: &["developers"] },
    Person { username: "pat", full_name: "Pat Park", groups: &["platform", "developers"] },
    Person { username: "casey", full_name: "Casey Cho", groups: &["contractors"] },
];

pub const CLIENT_ID: &str = "rollgate";

/// A deliberate fault in the next ID token, for tests of the client's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// A nonce other than the one the authorization request carried.
    WrongNonce,
    /// Expired ten minutes ago: beyond any leeway a client allows for clocks that differ.
    Expired,
    /// Signed by a key the JWKS does not publish, under the published key's id.
    ForeignSignature,
    /// Issued for another client.
    WrongAudience,
    /// Naming another issuer.
    WrongIssuer,
}

/// The running provider: its address, Rollgate's registration, and fault injection.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    client_secret: String,
    key: OnceCell<keys::Key>,
    foreign_key: OnceCell<keys::Key>,
    codes: Mutex<HashMap<String, authorize::Grant>>,
    flaw: Mutex<Option<Flaw>>,
    claims: Mutex<Option<serde_json::Map<String, serde_json::Value>>>,
}

impl Issuer {
    pub(crate) fn new(url: String) -> Self {
        let secret = random_token(24);
        Self {
            inner: Arc::new(Inner {
                url,
                client_secret: secret,
                key: OnceCell::new(),
                foreign_key: OnceCell::new(),
                codes: Mutex::new(HashMap::new()),
                flaw: Mutex::new(None),
                claims: Mutex::new(None),
            }),
        }
    }

    /// The issuer identifier (and base URL): `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &str {
        &self.inner.client_secret
    }

    /// The next ID token issued carries `flaw`.
    pub fn spoil_next_token(&self, flaw: Flaw) {
        *lock(&self.inner.flaw) = Some(flaw);
    }

    fn take_flaw(&self) -> Option<Flaw> {
        lock(&self.inner.flaw).take()
    }

    /// The next ID token carries these claims over the picked person's own: what a provider
    /// says when its users may choose their own `preferred_username` (or it is misconfigured),
    /// for tests of what the client believes. Signed like any other token.
    pub fn claim_next(&self, claims: serde_json::Map<String, serde_json::Value>) {
        *lock(&self.inner.claims) = Some(claims);
    }

    fn take_claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        lock(&self.inner.claims).take()
    }

    async fn key(&self) -> Result<&keys::Key, String> {
        key_of(&self.inner.key, "sandbox-1").await
    }

    async fn foreign_key(&self) -> Result<&keys::Key, String> {
        key_of(&self.inner.foreign_key, "sandbox-1").await
    }
}

async fn key_of<'a>(cell: &'a OnceCell<keys::Key>, kid: &'static str) -> Result<&'a keys::Key, String> {
    cell.get_or_try_init(|| async move {
        tokio::task::spawn_blocking(move || keys::Key::generate(kid))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    })
    .await
}

pub(crate) fn router(issuer: Issuer) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize::page).post(authorize::decide))
        .route("/token", post(token::exchange))
        .with_state(issuer)
}

async fn discovery(State(issuer): State<Issuer>) -> impl IntoResponse {
    let base = issuer.url();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username", "email", "groups"],
    }))
}

async fn jwks(State(issuer): State<Issuer>) -> axum::response::Response {
    match issuer.key().await {
        Ok(key) => Json(json!({ "keys": [key.jwk()] })).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    // ring's system random never fails on a supported OS; zeros would still be a valid (if
    // guessable) sandbox value rather than a crash.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
