//! The issuer's signing key: RSA 2048, made when first needed (making one takes a moment of
//! CPU, which only single-sign-on tests and demos should pay), published as a JWKS, used to
//! sign ID tokens as compact RS256 JWTs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};

pub(super) struct Key {
    pub kid: String,
    signing: SigningKey<Sha256>,
    private: RsaPrivateKey,
}

impl Key {
    /// A fresh key; blocking (call it off the async workers).
    pub fn generate(kid: &str) -> Result<Self, rsa::Error> {
        let private = RsaPrivateKey::new(&mut OsRng, 2048)?;
        Ok(Self { kid: kid.to_owned(), signing: SigningKey::new(private.clone()), private })
    }

    /// The public half, as a JSON Web Key.
    pub fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// `claims` as a signed compact JWT naming `kid` (which may differ from this key's own,
    /// to make a token whose signature does not match the published key).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signing.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}
