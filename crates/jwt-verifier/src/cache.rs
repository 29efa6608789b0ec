//! The optional verified-token cache.
//!
//! Keyed by the SHA-256 of the token, so the map holds no bearer token and a hit needs
//! a full 256-bit match. An entry never outlives the token's `exp` (no leeway here: a
//! token inside its leeway window is verified in full again), and the whole cache is
//! emptied whenever an issuer's key set changes, so a removed key cannot keep a token
//! alive. A hit still costs a SHA-256 of the token and one uncontended mutex.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest;

use crate::Claims;

/// SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenKey([u8; 32]);

impl TokenKey {
    pub(crate) fn of(token: &str) -> Self {
        let d = digest::digest(&digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(d.as_ref());
        Self(key)
    }
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The key is already a uniform hash: its first eight bytes are a fine bucket
        // index, and equality still compares all 32 bytes.
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(prefix));
    }
}

/// A hasher that passes a `u64` through (see [`TokenKey`]'s `Hash`).
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `TokenKey`; a simple FNV-1a keeps it correct for anything else.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Entry {
    claims: Claims,
    exp: u64,
    /// Index of the issuer whose key verified the token.
    issuer: usize,
}

/// A bounded map from token hash to verified claims.
pub(crate) struct TokenCache {
    capacity: usize,
    map: Mutex<HashMap<TokenKey, Entry, BuildHasherDefault<PassThrough>>>,
    /// Bumped (under the map lock) by every `clear`. A verification reads it before it
    /// looks up its key and inserts only if it is unchanged, so a token verified with a
    /// key that was removed meanwhile cannot slip back in after the clear.
    generation: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::default()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TokenKey, Entry, BuildHasherDefault<PassThrough>>> {
        // The map holds no invariant a panic could break halfway.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached claims and issuer index, if present and `now < exp`.
    pub(crate) fn get(&self, key: &TokenKey, now: u64) -> Option<(Claims, usize)> {
        let mut map = self.lock();
        let entry = map.get(key)?;
        if now >= entry.exp {
            map.remove(key);
            return None;
        }
        Some((entry.claims.clone(), entry.issuer))
    }

    /// The generation to pass to [`TokenCache::insert`]; read it before the key lookup.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `claims` unless they expired or the cache was cleared since `generation`.
    pub(crate) fn insert(
        &self,
        key: TokenKey,
        claims: Claims,
        issuer: usize,
        now: u64,
        generation: u64,
    ) {
        let exp = claims.exp;
        if now >= exp {
            return;
        }
        let mut map = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= self.capacity && !map.contains_key(&key) {
            // Amortised eviction: drop the expired, then arbitrary entries down to 3/4.
            map.retain(|_, e| now < e.exp);
            let target = self.capacity - self.capacity / 4;
            if map.len() >= target {
                let excess = map.len() + 1 - target.max(1);
                let victims: Vec<TokenKey> = map.keys().take(excess).copied().collect();
                for v in victims {
                    map.remove(&v);
                }
            }
        }
        map.insert(
            key,
            Entry {
                claims,
                exp,
                issuer,
            },
        );
    }

    pub(crate) fn clear(&self) {
        let mut map = self.lock();
        map.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_proto::{AccessTokenClaims, ClientId, TokenUse};

    fn claims(exp: u64) -> Claims {
        AccessTokenClaims {
            sub: "c".into(),
            token_use: TokenUse::Access,
            scope: "a/b".parse().unwrap(),
            auth_time: 0,
            iss: "i".into(),
            exp,
            iat: 0,
            version: 2,
            jti: "j".into(),
            client_id: ClientId::parse("c").unwrap(),
        }
        .into()
    }

    #[test]
    fn entries_never_outlive_exp() {
        let cache = TokenCache::new(10);
        let k = TokenKey::of("t");
        cache.insert(k, claims(100), 0, 50, cache.generation());
        assert!(cache.get(&k, 99).is_some());
        assert!(cache.get(&k, 100).is_none());
        assert_eq!(cache.len(), 0);
        cache.insert(k, claims(100), 0, 100, cache.generation());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(100);
        for i in 0..1000 {
            cache.insert(
                TokenKey::of(&i.to_string()),
                claims(100),
                0,
                1,
                cache.generation(),
            );
            assert!(cache.len() <= 100);
        }
        let last = TokenKey::of("999");
        assert!(cache.get(&last, 1).is_some());
    }

    #[test]
    fn a_verification_that_straddles_a_clear_is_not_cached() {
        let cache = TokenCache::new(10);
        let k = TokenKey::of("t");
        let seen = cache.generation();
        // The key set changed while this token was being verified with the old key.
        cache.clear();
        cache.insert(k, claims(100), 0, 1, seen);
        assert!(cache.get(&k, 1).is_none());
        cache.insert(k, claims(100), 0, 1, cache.generation());
        assert!(cache.get(&k, 1).is_some());
    }
}
