//! What the token endpoint knows about each client, held in memory so that issuing a token
//! reads no database in the steady state: two SQLite queries per token cost about half as
//! much CPU as the RSA signature itself, mostly in hand-offs to the database threads.
//!
//! Freshness: every admin write of this server drops all entries (a generation number, so a
//! load that raced a write is not kept), and an entry is reloaded once it is older than
//! [`MAX_AGE`], so a change made through another replica over the same database takes effect
//! within that time.
//!
//! Unknown client ids are remembered too (a bounded negative cache, same freshness rules),
//! so that a flood of requests naming a client that does not exist costs no database query
//! after the first.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::AppState;
use crate::error::StoreError;
use crate::keys::SigningKey;
use crate::store::TokenContext;

/// How long an entry is used before it is read again from the store.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);
/// How many unknown client ids are remembered; beyond, expired ones are dropped and, if
/// none is, new ones are not remembered (memory stays bounded under a flood of random ids).
pub(crate) const MAX_UNKNOWN: usize = 10_000;

/// A client as the token endpoint needs it.
#[derive(Debug)]
pub(crate) struct Grant {
    /// The client, its pool's domain and newest key id.
    pub(crate) context: TokenContext,
    /// The pool's existing scopes, `<identifier>/<scope-name>`.
    pub(crate) active_scopes: HashSet<String>,
    /// The pool's newest key, parsed; `None` when the pool has no key.
    pub(crate) signing_key: Option<Arc<SigningKey>>,
}

/// The cached grants by client id.
#[derive(Debug, Default)]
pub(crate) struct GrantCache {
    inner: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every admin write.
    generation: u64,
    by_client: HashMap<String, Entry>,
    /// Client ids the store did not know, with when it said so.
    unknown: HashMap<String, SystemTime>,
}

#[derive(Debug)]
struct Entry {
    loaded: SystemTime,
    grant: Arc<Grant>,
}

impl GrantCache {
    /// Drops every entry: called after each admin write.
    pub(crate) fn invalidate(&self) {
        let mut entries = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        entries.generation += 1;
        entries.by_client.clear();
        entries.unknown.clear();
    }

    /// Whether the store said recently that there is no such client.
    fn known_unknown(&self, client_id: &str, now: SystemTime) -> bool {
        let entries = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .unknown
            .get(client_id)
            .and_then(|loaded| now.duration_since(*loaded).ok())
            .is_some_and(|age| age < MAX_AGE)
    }

    /// Remembers that the store knew no such client at `generation`.
    fn insert_unknown(&self, client_id: &str, generation: u64, loaded: SystemTime) {
        let mut entries = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            return;
        }
        if entries.unknown.len() >= MAX_UNKNOWN {
            entries
                .unknown
                .retain(|_, at| loaded.duration_since(*at).is_ok_and(|age| age < MAX_AGE));
        }
        if entries.unknown.len() < MAX_UNKNOWN {
            entries.unknown.insert(client_id.to_owned(), loaded);
        }
    }

    fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    fn fresh(&self, client_id: &str, now: SystemTime) -> Option<Arc<Grant>> {
        let entries = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.by_client.get(client_id)?;
        // A clock that went back counts as expired.
        let age = now.duration_since(entry.loaded).ok()?;
        (age < MAX_AGE).then(|| Arc::clone(&entry.grant))
    }

    /// Keeps a grant loaded at `generation`, unless an admin write happened since.
    fn insert(&self, client_id: &str, generation: u64, loaded: SystemTime, grant: Arc<Grant>) {
        let mut entries = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if entries.generation == generation {
            entries
                .by_client
                .insert(client_id.to_owned(), Entry { loaded, grant });
        }
    }
}

/// The grant of a client, from the cache or the store; `None` when there is no such client.
pub(crate) async fn grant(
    state: &AppState,
    client_id: &str,
) -> Result<Option<Arc<Grant>>, StoreError> {
    let cache = state.grants();
    let now = state.clock().now();
    if let Some(grant) = cache.fresh(client_id, now) {
        return Ok(Some(grant));
    }
    if cache.known_unknown(client_id, now) {
        return Ok(None);
    }
    let generation = cache.generation();
    let Some(context) = state.store().token_context(client_id).await? else {
        cache.insert_unknown(client_id, generation, now);
        return Ok(None);
    };
    let pool_id = &context.client.pool_id;
    let active_scopes = pool_scopes(state, pool_id).await?;
    let signing_key = match context.signing_kid.as_deref() {
        Some(kid) => Some(signing_key(state, pool_id, kid).await?),
        None => None,
    };
    let grant = Arc::new(Grant {
        context,
        active_scopes,
        signing_key,
    });
    cache.insert(client_id, generation, now, Arc::clone(&grant));
    Ok(Some(grant))
}

/// The pool's key with this `kid`, parsed once and then served from the key cache.
async fn signing_key(
    state: &AppState,
    pool_id: &str,
    kid: &str,
) -> Result<Arc<SigningKey>, StoreError> {
    if let Some(key) = state.keys().cached(kid) {
        return Ok(key);
    }
    let record = state
        .store()
        .signing_keys(pool_id)
        .await?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| StoreError::Internal(format!("user pool {pool_id} lost its key {kid}")))?;
    state.keys().get(&record)
}

/// Every `<identifier>/<scope-name>` defined by the pool's resource servers.
pub(crate) async fn pool_scopes(
    state: &AppState,
    pool_id: &str,
) -> Result<HashSet<String>, StoreError> {
    let servers = state
        .store()
        .list_resource_servers(pool_id, None, 10_000)
        .await?;
    Ok(servers
        .iter()
        .flat_map(|s| {
            s.scopes
                .iter()
                .map(move |scope| format!("{}/{}", s.identifier, scope.scope_name))
        })
        .collect())
}
