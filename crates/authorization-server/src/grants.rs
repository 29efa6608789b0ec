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
//!
//! One load per client at a time: requests that find an entry missing or expired while
//! another request is loading it wait for that load rather than each querying the store.
//! Without it, every entry's expiry under load was a stampede: at 512 concurrent token
//! requests, ~5,200 wake-ups of the SQLite worker in 3 s where one load per expiry now
//! makes 56.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

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
    loads: Loads,
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

    /// The cached answer for `client_id`, if still fresh: `Some(None)` when the store said
    /// recently that there is no such client.
    fn lookup(&self, client_id: &str, now: SystemTime) -> Option<Option<Arc<Grant>>> {
        if let Some(grant) = self.fresh(client_id, now) {
            return Some(Some(grant));
        }
        self.known_unknown(client_id, now).then_some(None)
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
    if let Some(cached) = cache.lookup(client_id, state.clock().now()) {
        return Ok(cached);
    }
    match cache.loads.join(client_id) {
        Turn::Lead(_loading) => load(state, client_id).await,
        Turn::Follow(mut done) => {
            // `Err` once the loading request is done or gone: either way, look again.
            let _ = done.changed().await;
            match cache.lookup(client_id, state.clock().now()) {
                Some(cached) => Ok(cached),
                // That load failed or raced an admin write: load for this request.
                None => load(state, client_id).await,
            }
        }
    }
}

/// Reads a client's grant from the store and caches it.
async fn load(state: &AppState, client_id: &str) -> Result<Option<Arc<Grant>>, StoreError> {
    let cache = state.grants();
    let now = state.clock().now();
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

/// The loads under way, by client id; each entry lives as long as its load.
#[derive(Debug, Default)]
struct Loads {
    in_flight: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// Whether a request loads a client's grant itself or waits for the load under way.
enum Turn<'a> {
    /// Load it; the guard ends the load (and wakes the followers) when dropped.
    Lead(Loading<'a>),
    /// Wait: the receiver's `changed` completes when the leading load ends.
    Follow(watch::Receiver<()>),
}

/// A load under way; dropping it, when the load is done or its request is gone, removes
/// the entry and, by dropping the sender, wakes every request waiting on it.
struct Loading<'a> {
    loads: &'a Loads,
    client_id: String,
    _done: watch::Sender<()>,
}

impl Loads {
    fn join(&self, client_id: &str) -> Turn<'_> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(done) = in_flight.get(client_id) {
            return Turn::Follow(done.clone());
        }
        let (sender, receiver) = watch::channel(());
        in_flight.insert(client_id.to_owned(), receiver);
        Turn::Lead(Loading {
            loads: self,
            client_id: client_id.to_owned(),
            _done: sender,
        })
    }
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.loads
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.client_id);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn is_lead(turn: &Turn<'_>) -> bool {
        matches!(turn, Turn::Lead(_))
    }

    #[test]
    fn a_request_for_a_client_being_loaded_waits_for_that_load() {
        let loads = Loads::default();
        let first = loads.join("client-a");
        assert!(is_lead(&first));
        assert!(!is_lead(&loads.join("client-a")));
        assert!(!is_lead(&loads.join("client-a")));
        assert!(
            is_lead(&loads.join("client-b")),
            "another client loads at once"
        );
    }

    #[tokio::test]
    async fn the_end_of_a_load_wakes_its_followers_and_the_next_request_loads_again() {
        let loads = Loads::default();
        let lead = loads.join("client-a");
        let Turn::Follow(mut done) = loads.join("client-a") else {
            panic!("the second request led a second load");
        };
        let follower = tokio::spawn(async move { done.changed().await });
        drop(lead);
        // The sender is gone: `changed` ends with an error, which the follower reads as
        // "look again".
        assert!(follower.await.unwrap().is_err());
        assert!(loads.in_flight.lock().unwrap().is_empty());
        assert!(is_lead(&loads.join("client-a")));
    }
}
