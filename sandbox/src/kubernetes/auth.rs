//! Who may call the sandbox's API: bearer tokens, as a cluster with token authentication
//! checks them. One static admin token (written into the sandbox's kubeconfig) and the
//! ServiceAccount tokens the TokenRequest API issues, each with its expiry. A request with an
//! missing, unknown or expired token gets `401 Unauthorized` (the API is served over TLS, so
//! kubectl sends its token).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, header};

use super::status::ApiError;

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    Admin,
    ServiceAccount { namespace: String, name: String },
}

#[derive(Clone)]
pub struct Tokens {
    admin: Arc<str>,
    issued: Arc<Mutex<HashMap<String, (Identity, SystemTime)>>>,
}

impl Tokens {
    pub fn new() -> Self {
        Self { admin: random_token().into(), issued: Arc::default() }
    }

    pub fn admin(&self) -> &str {
        &self.admin
    }

    /// A new ServiceAccount token valid for `lifetime`.
    pub fn issue(&self, namespace: &str, name: &str, lifetime: Duration) -> (String, SystemTime) {
        let expires = SystemTime::now() + lifetime;
        let token = service_account_jwt(namespace, name, expires);
        let identity = Identity::ServiceAccount { namespace: namespace.to_owned(), name: name.to_owned() };
        self.issued.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), (identity, expires));
        (token, expires)
    }

    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        if token == &*self.admin {
            return Ok(Identity::Admin);
        }
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        match issued.get(token) {
            Some((identity, expires)) if *expires > SystemTime::now() => Ok(identity.clone()),
            Some(_) => {
                issued.remove(token);
                Err(ApiError::unauthorized())
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// Tokens written to and read back from a file, so a restarted sandbox keeps accepting the
/// tokens it gave out (the kubeconfig's, and those kept in SSM).
impl Tokens {
    pub fn snapshot(&self) -> serde_json::Value {
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let issued: Vec<serde_json::Value> = issued
            .iter()
            .filter_map(|(token, (identity, expires))| {
                let Identity::ServiceAccount { namespace, name } = identity else { return None };
                let expires = expires.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
                Some(serde_json::json!({ "token": token, "namespace": namespace, "name": name, "expires": expires }))
            })
            .collect();
        serde_json::json!({ "admin": &*self.admin, "issued": issued })
    }

    pub fn issued_count(&self) -> usize {
        self.issued.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn restore(snapshot: &serde_json::Value) -> Result<Self, String> {
        let admin =
            snapshot["admin"].as_str().filter(|a| !a.is_empty()).ok_or("the snapshot has no admin token")?;
        let mut issued = HashMap::new();
        for entry in snapshot["issued"].as_array().into_iter().flatten() {
            let (Some(token), Some(namespace), Some(name), Some(expires)) = (
                entry["token"].as_str(),
                entry["namespace"].as_str(),
                entry["name"].as_str(),
                entry["expires"].as_u64(),
            ) else {
                return Err("the snapshot holds a malformed token".into());
            };
            let identity =
                Identity::ServiceAccount { namespace: namespace.to_owned(), name: name.to_owned() };
            issued
                .insert(token.to_owned(), (identity, SystemTime::UNIX_EPOCH + Duration::from_secs(expires)));
        }
        Ok(Self { admin: admin.into(), issued: Arc::new(Mutex::new(issued)) })
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Self::new()
    }
}

/// 32 bytes from the OS's random source, hex-encoded. Falls back to time-seeded bits only if
/// /dev/urandom is unreadable, which a sandbox can live with.
/// A token shaped as a cluster's ServiceAccount tokens are: a JWT whose claims name the
/// account and when it expires (what clients read); its signature is random, since the
/// sandbox knows its tokens by their whole text.
fn service_account_jwt(namespace: &str, name: &str, expires: SystemTime) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let header = serde_json::json!({ "alg": "RS256", "kid": "rollgate-sandbox" });
    let claims = serde_json::json!({
        "iss": "https://kubernetes.default.svc",
        "aud": ["https://kubernetes.default.svc"],
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
        "iat": secs(SystemTime::now()),
        "exp": secs(expires),
        "kubernetes.io": { "namespace": namespace, "serviceaccount": { "name": name } },
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(random_token())
    )
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let mut x = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            | 1;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        headers
    }

    #[test]
    fn tokens_identify_and_expire() {
        let tokens = Tokens::new();
        assert_eq!(tokens.authenticate(&bearer(tokens.admin())), Ok(Identity::Admin));
        let (token, _) = tokens.issue("staging", "deployer", Duration::from_secs(600));
        assert_eq!(
            tokens.authenticate(&bearer(&token)),
            Ok(Identity::ServiceAccount { namespace: "staging".into(), name: "deployer".into() })
        );
        let (expired, _) = tokens.issue("staging", "deployer", Duration::ZERO);
        assert_eq!(tokens.authenticate(&bearer(&expired)).unwrap_err().code, 401);
        assert_eq!(tokens.authenticate(&HeaderMap::new()).unwrap_err().code, 401);
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(tokens.authenticate(&basic).unwrap_err().code, 401);
        assert_ne!(Tokens::new().admin(), tokens.admin(), "every sandbox has its own admin token");
    }
}
