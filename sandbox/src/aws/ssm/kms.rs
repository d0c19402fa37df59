//! The simulated KMS that SecureString parameters are encrypted with: a few keys, each a
//! random AES-256-GCM key made when the sandbox starts, known by id, ARN or alias. A value is
//! sealed with the parameter's name as associated data (AWS binds the ciphertext to the
//! parameter ARN the same way), so a ciphertext copied to another parameter does not decrypt.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::super::ids;
use super::SsmError;

/// The key SecureString parameters use when no key is named (AWS's managed key for SSM).
pub const DEFAULT_ALIAS: &str = "alias/aws/ssm";

struct Key {
    id: String,
    alias: &'static str,
    cipher: LessSafeKey,
}

pub struct Kms {
    keys: Vec<Key>,
}

/// The keys a sandbox has: AWS's managed SSM key and one customer key for release tokens.
const ALIASES: [&str; 2] = [DEFAULT_ALIAS, "alias/rollgate"];

impl Kms {
    pub fn new() -> Self {
        let keys = ALIASES
            .iter()
            .map(|alias| {
                let material = ids::random_bytes::<32>();
                // 32 bytes is AES-256's key length, so this cannot fail.
                let unbound = UnboundKey::new(&AES_256_GCM, &material).expect("a 256-bit key");
                Key { id: ids::uuid(), alias, cipher: LessSafeKey::new(unbound) }
            })
            .collect();
        Self { keys }
    }

    /// Resolves a key id as PutParameter accepts it: `alias/<name>`, a key id, or either's ARN.
    /// Returns the key's canonical name, which is what DescribeParameters shows.
    pub fn resolve(&self, key_id: Option<&str>) -> Result<String, SsmError> {
        let wanted = key_id.unwrap_or(DEFAULT_ALIAS);
        let short = wanted.rsplit_once(":alias/").map(|(_, a)| format!("alias/{a}"));
        let short = short.as_deref().unwrap_or(wanted);
        let short = short.rsplit_once(":key/").map(|(_, k)| k).unwrap_or(short);
        self.keys
            .iter()
            .find(|k| k.alias == short || k.id == short)
            .map(|k| if key_id.is_some_and(|w| w == k.id) { k.id.clone() } else { k.alias.to_owned() })
            .ok_or_else(|| SsmError::InvalidKeyId(wanted.to_owned()))
    }

    fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.alias == name || k.id == name)
    }

    /// Seals `plaintext` under the key named `key` for the parameter `parameter`; the result is
    /// base64 of nonce, ciphertext and tag, as opaque as KMS's ciphertext blobs.
    pub fn encrypt(&self, key: &str, parameter: &str, plaintext: &str) -> Result<String, SsmError> {
        let key = self.key(key).ok_or_else(|| SsmError::InvalidKeyId(key.to_owned()))?;
        let nonce_bytes = ids::random_bytes::<NONCE_LEN>();
        let mut sealed = plaintext.as_bytes().to_vec();
        key.cipher
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(parameter.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SsmError::Kms("encryption failed".into()))?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(STANDARD.encode(blob))
    }

    pub fn decrypt(&self, key: &str, parameter: &str, ciphertext: &str) -> Result<String, SsmError> {
        let key = self.key(key).ok_or_else(|| SsmError::InvalidKeyId(key.to_owned()))?;
        let invalid = || SsmError::Kms("the ciphertext does not decrypt under its key".into());
        let blob = STANDARD.decode(ciphertext).map_err(|_| invalid())?;
        if blob.len() < NONCE_LEN {
            return Err(invalid());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .cipher
            .open_in_place(nonce, Aad::from(parameter.as_bytes()), &mut sealed)
            .map_err(|_| invalid())?;
        String::from_utf8(plain.to_vec()).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_per_parameter() {
        let kms = Kms::new();
        let key = kms.resolve(None).unwrap();
        assert_eq!(key, DEFAULT_ALIAS);
        let sealed = kms.encrypt(&key, "/a", "hush").unwrap();
        assert!(!sealed.contains("hush"));
        assert_ne!(sealed, kms.encrypt(&key, "/a", "hush").unwrap(), "a fresh nonce each time");
        assert_eq!(kms.decrypt(&key, "/a", &sealed).unwrap(), "hush");
        assert!(kms.decrypt(&key, "/b", &sealed).is_err(), "bound to its parameter");
        assert!(kms.decrypt("alias/rollgate", "/a", &sealed).is_err(), "bound to its key");
        assert_eq!(
            kms.resolve(Some("arn:aws:kms:us-east-1:123456789012:alias/rollgate")).unwrap(),
            "alias/rollgate"
        );
        assert!(matches!(kms.resolve(Some("alias/nope")), Err(SsmError::InvalidKeyId(_))));
    }
}
