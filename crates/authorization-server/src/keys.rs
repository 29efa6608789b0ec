//! RSA-2048 signing keys (aws-lc-rs): generation, the in-memory cache of parsed keys, and
//! RS256 JWT signing.
//!
//! Keys live in the store (PKCS#8), so a restart keeps them and tokens already issued stay
//! valid. As in Cognito, a pool starts with two keys, one for access tokens and one for ID
//! tokens (published, never used here). Rotation adds an access-token key: the newest one
//! signs, every key stays published in the JWKS until the pool is deleted.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;

use crate::error::StoreError;
use crate::store::{KeyUse, SigningKeyRecord};

fn crypto_error(what: &str) -> StoreError {
    StoreError::Internal(format!("rsa key {what} failed"))
}

/// Generates an RSA-2048 key for a pool. Takes tens of milliseconds: call it from a
/// blocking thread.
pub(crate) fn generate(
    pool_id: &str,
    now_ms: i64,
    token_use: KeyUse,
) -> Result<SigningKeyRecord, StoreError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto_error("generation"))?;
    let pkcs8 = pair.as_der().map_err(|_| crypto_error("encoding"))?;
    let public = pair.public_key();
    let spki = public.as_der().map_err(|_| crypto_error("encoding"))?;
    Ok(SigningKeyRecord {
        pool_id: pool_id.to_owned(),
        kid: STANDARD.encode(digest(&SHA256, spki.as_ref())),
        pkcs8: pkcs8.as_ref().to_vec(),
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        created_ms: now_ms,
        token_use,
    })
}

/// Generates a key on the blocking thread pool.
pub(crate) async fn generate_blocking(
    pool_id: String,
    now_ms: i64,
    token_use: KeyUse,
) -> Result<SigningKeyRecord, StoreError> {
    tokio::task::spawn_blocking(move || generate(&pool_id, now_ms, token_use))
        .await
        .map_err(|_| crypto_error("generation task"))?
}

/// A new pool's keys, generated in parallel: the access-token key, then the ID-token key.
/// The JWKS lists keys newest first, so a verifier that takes the first key instead of
/// matching `kid` fails on a new pool, as it can against Cognito.
pub(crate) async fn generate_pool_keys(
    pool_id: &str,
    now_ms: i64,
) -> Result<[SigningKeyRecord; 2], StoreError> {
    let (id, access) = tokio::try_join!(
        generate_blocking(pool_id.to_owned(), now_ms, KeyUse::Id),
        generate_blocking(pool_id.to_owned(), now_ms, KeyUse::Access),
    )?;
    Ok([access, id])
}

/// A parsed private key, ready to sign.
pub(crate) struct SigningKey {
    kid: String,
    pair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    kid: &'a str,
    alg: &'static str,
}

impl SigningKey {
    fn parse(record: &SigningKeyRecord) -> Result<Self, StoreError> {
        let pair = KeyPair::from_pkcs8(&record.pkcs8).map_err(|_| crypto_error("parsing"))?;
        Ok(Self {
            kid: record.kid.clone(),
            pair,
        })
    }

    /// A compact JWS: header `{"kid":...,"alg":"RS256"}` (Cognito's, no `typ`), the claims
    /// serialized in their field order, RSASSA-PKCS1-v1_5 with SHA-256.
    pub(crate) fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, StoreError> {
        let header = serde_json::to_vec(&Header {
            kid: &self.kid,
            alg: "RS256",
        })
        .map_err(|_| crypto_error("header encoding"))?;
        let payload = serde_json::to_vec(claims).map_err(|_| crypto_error("claims encoding"))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| crypto_error("signing"))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// Parsed keys by `kid`, so the token endpoint parses a PKCS#8 key once, not per token.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    keys: RwLock<HashMap<String, Arc<SigningKey>>>,
}

impl KeyCache {
    /// The parsed key of this record, parsing it on first use.
    pub(crate) fn get(&self, record: &SigningKeyRecord) -> Result<Arc<SigningKey>, StoreError> {
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&record.kid)
        {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(SigningKey::parse(record)?);
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.kid.clone(), Arc::clone(&key));
        Ok(key)
    }

    /// The parsed key with this `kid`, if it was parsed before.
    pub(crate) fn cached(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// Forgets the keys of a deleted pool.
    pub(crate) fn forget(&self, kids: &[String]) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        for kid in kids {
            keys.remove(kid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_has_cognito_shapes() {
        let record = generate("us-east-1_abcdefghi", 0, KeyUse::Access).unwrap();
        assert_eq!(record.kid.len(), 44);
        assert_eq!(record.e, "AQAB");
        assert_eq!(record.n.len(), 342);
        let cache = KeyCache::default();
        let key = cache.get(&record).unwrap();
        let token = key.sign_jwt(&serde_json::json!({"a": 1})).unwrap();
        let header = token.split('.').next().unwrap();
        let header = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            format!(r#"{{"kid":"{}","alg":"RS256"}}"#, record.kid)
        );
        assert!(Arc::ptr_eq(&key, &cache.get(&record).unwrap()));
    }
}
