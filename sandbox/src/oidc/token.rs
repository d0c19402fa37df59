//! `POST /token`: the authorization code grant. The client authenticates (HTTP Basic or
//! form fields); the code must be unused, fresh, issued to it for the same redirect URI, and
//! the PKCE verifier must hash to the challenge. Errors are RFC 6749 5.2 JSON.

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::authorize::CODE_TTL;
use super::{CLIENT_ID, Flaw, Issuer, lock};

/// An ID token's life.
const ID_TOKEN_SECS: u64 = 300;

#[derive(Debug, Deserialize)]
pub(super) struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response =
        (status, Json(json!({ "error": code, "error_description": description }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"sandbox\""));
    }
    response
}

/// The client's id and secret, from HTTP Basic (form-urlencoded parts) or the form.
fn client_credentials(headers: &HeaderMap, request: &TokenRequest) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((request.client_id.clone()?, request.client_secret.clone()?))
}

pub(super) async fn exchange(
    State(issuer): State<Issuer>,
    headers: HeaderMap,
    Form(request): Form<TokenRequest>,
) -> Response {
    match client_credentials(&headers, &request) {
        Some((id, secret)) if id == CLIENT_ID && secret == issuer.client_secret() => {}
        _ => return error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret"),
    }
    if request.grant_type != "authorization_code" {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only authorization_code");
    }
    // Used once, whatever happens next.
    let Some(grant) = lock(&issuer.inner.codes).remove(&request.code) else {
        return error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or already used code");
    };
    if grant.issued.elapsed() >= CODE_TTL {
        return error(StatusCode::BAD_REQUEST, "invalid_grant", "the code expired");
    }
    if grant.redirect_uri != request.redirect_uri {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(request.code_verifier.as_bytes()));
    if request.code_verifier.len() < 43 || challenge != grant.code_challenge {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed: the code_verifier does not match the code_challenge",
        );
    }

    let (key, foreign) = match (issuer.key().await, issuer.foreign_key().await) {
        (Ok(key), Ok(foreign)) => (key, foreign),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let person = grant.person;
    let mut claims = json!({
        "iss": issuer.url(),
        "sub": format!("sandbox-{}", person.username),
        "aud": CLIENT_ID,
        "iat": now,
        "auth_time": now,
        "exp": now + ID_TOKEN_SECS,
        "preferred_username": person.username,
        "name": person.full_name,
        "email": format!("{}@sandbox.example", person.username),
        "email_verified": true,
        "groups": person.groups,
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    for (claim, value) in issuer.take_claims().unwrap_or_default() {
        claims[claim] = value;
    }
    let mut signer = key;
    match issuer.take_flaw() {
        None => {}
        Some(Flaw::WrongNonce) => claims["nonce"] = json!("not-the-nonce-you-sent"),
        Some(Flaw::Expired) => {
            claims["iat"] = json!(now - 900);
            claims["exp"] = json!(now - 600);
        }
        Some(Flaw::ForeignSignature) => signer = foreign,
        Some(Flaw::WrongAudience) => claims["aud"] = json!("someone-else"),
        Some(Flaw::WrongIssuer) => claims["iss"] = json!("https://issuer.invalid"),
    }
    let id_token = signer.sign(&key.kid, &claims);
    let mut response = Json(json!({
        "access_token": super::random_token(24),
        "token_type": "Bearer",
        "expires_in": ID_TOKEN_SECS,
        "id_token": id_token,
        "scope": "openid profile email groups",
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}
