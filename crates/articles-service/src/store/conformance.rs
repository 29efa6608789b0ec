//! The store conformance suite: the same checks on every backend.
//!
//! SQLite always runs; PostgreSQL runs when `TEST_DATABASE_URL` names a server (each run
//! creates its own database and drops it at the end).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::{ArticleStore, StoreError};
use crate::domain::{
    Article, ArticleId, ArticleInput, AuthorId, Body, Cursor, PageRequest, Status, Title,
};

// === Test databases ===

/// A database for one test, dropped (for PostgreSQL) by [`TestDb::finish`].
pub(crate) struct TestDb {
    pub(crate) store: Arc<dyn ArticleStore>,
    #[cfg(feature = "postgres")]
    pg: Option<(super::PostgresStore, String, String)>,
}

impl TestDb {
    /// A fresh in-memory SQLite store.
    pub(crate) async fn sqlite() -> Self {
        Self {
            store: super::connect("sqlite::memory:").await.unwrap(),
            #[cfg(feature = "postgres")]
            pg: None,
        }
    }

    /// A SQLite store on the file `url` names (`sqlite://PATH`).
    pub(crate) async fn sqlite_at(url: &str) -> Self {
        Self {
            store: super::connect(url).await.unwrap(),
            #[cfg(feature = "postgres")]
            pg: None,
        }
    }

    /// A fresh PostgreSQL database on the `TEST_DATABASE_URL` server, or `None` (with a
    /// note) when the variable is unset.
    #[cfg(feature = "postgres")]
    pub(crate) async fn postgres() -> Option<Self> {
        use sqlx::Connection as _;
        let Ok(server) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("TEST_DATABASE_URL unset: skipping the PostgreSQL half of this test");
            return None;
        };
        let name = format!("articles_service_test_{}", Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&server, &name);
        let store = super::PostgresStore::connect(&url).await.unwrap();
        Some(Self {
            store: Arc::new(store.clone()),
            pg: Some((store, server, name)),
        })
    }

    /// The URL of the PostgreSQL database, if this is one.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres_url(&self) -> Option<String> {
        self.pg
            .as_ref()
            .map(|(_, server, name)| with_database(server, name))
    }

    /// Drops the PostgreSQL database, if any.
    pub(crate) async fn finish(self) {
        #[cfg(feature = "postgres")]
        if let Some((store, server, name)) = self.pg {
            use sqlx::Connection as _;
            drop(self.store);
            store.close().await;
            let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

/// `server` (a `postgres://` URL) with its database name replaced by `name`.
#[cfg(feature = "postgres")]
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Runs `suite` on SQLite and, when configured, on PostgreSQL.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(db.store.as_ref()).await;
                    db.finish().await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$name(db.store.as_ref()).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_every_backend!(
    ping_answers,
    insert_then_get_round_trips,
    get_unknown_is_none,
    duplicate_id_is_refused,
    replace_keeps_server_fields,
    delete_removes_once,
    list_walks_every_article_once_in_order,
    list_filters_by_status,
    publication_claim_is_exclusive,
    stale_claim_can_be_taken_over,
    released_claim_leaves_article_unchanged,
);

// === Fixtures ===

const T0: OffsetDateTime = datetime!(2026-05-01 09:00:00.000001 UTC);

fn input(title: &str, status: Status) -> ArticleInput {
    ArticleInput {
        title: Title::parse(title).unwrap(),
        body: Body::parse("Some text.\nWith two lines — and UTF-8.").unwrap(),
        author_id: AuthorId::parse("alice").unwrap(),
        publish_at: Some(datetime!(2026-06-01 10:30:00.123456 UTC)),
        status,
    }
}

fn article(title: &str, created_at: OffsetDateTime) -> Article {
    input(title, Status::Draft).into_article(ArticleId::random(), created_at)
}

// === The suite ===

async fn ping_answers(store: &dyn ArticleStore) {
    store.ping().await.unwrap();
}

async fn insert_then_get_round_trips(store: &dyn ArticleStore) {
    let with_date = article("With a date", T0);
    let mut without_date = article("Without a date", T0 + Duration::from_secs(1));
    without_date.publish_at = None;
    without_date.status = Status::Published;
    for a in [&with_date, &without_date] {
        store.insert(a).await.unwrap();
        assert_eq!(store.get(a.id).await.unwrap().as_ref(), Some(a));
    }
}

async fn get_unknown_is_none(store: &dyn ArticleStore) {
    store.insert(&article("Other", T0)).await.unwrap();
    assert_eq!(store.get(ArticleId::random()).await.unwrap(), None);
}

async fn duplicate_id_is_refused(store: &dyn ArticleStore) {
    let a = article("First", T0);
    store.insert(&a).await.unwrap();
    let mut again = article("Second", T0);
    again.id = a.id;
    let err = store.insert(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Query(_)), "{err:?}");
    assert_eq!(store.get(a.id).await.unwrap(), Some(a));
}

async fn replace_keeps_server_fields(store: &dyn ArticleStore) {
    let a = article("Before", T0);
    store.insert(&a).await.unwrap();
    // Book it first, so the replace must keep the event id.
    let claim = Uuid::new_v4();
    assert!(store.claim_publication(a.id, claim, T0, T0).await.unwrap());
    store
        .complete_publication(a.id, claim, "ev-1", T0)
        .await
        .unwrap()
        .unwrap();

    let later = T0 + Duration::from_secs(60);
    let mut changes = input("After", Status::Published);
    changes.publish_at = None;
    changes.author_id = AuthorId::parse("bob").unwrap();
    let replaced = store.replace(a.id, &changes, later).await.unwrap().unwrap();
    assert_eq!(replaced.title.as_str(), "After");
    assert_eq!(replaced.author_id.as_str(), "bob");
    assert_eq!(replaced.publish_at, None);
    assert_eq!(replaced.status, Status::Published);
    assert_eq!(replaced.schedule_event_id.as_deref(), Some("ev-1"));
    assert_eq!(replaced.created_at, T0);
    assert_eq!(replaced.updated_at, later);
    assert_eq!(store.get(a.id).await.unwrap(), Some(replaced));

    let missing = store.replace(ArticleId::random(), &changes, later).await;
    assert_eq!(missing.unwrap(), None);
}

async fn delete_removes_once(store: &dyn ArticleStore) {
    let a = article("Doomed", T0);
    let b = article("Kept", T0);
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    assert!(store.delete(a.id).await.unwrap());
    assert_eq!(store.get(a.id).await.unwrap(), None);
    assert!(!store.delete(a.id).await.unwrap());
    assert_eq!(store.get(b.id).await.unwrap(), Some(b));
}

async fn list_walks_every_article_once_in_order(store: &dyn ArticleStore) {
    // Seven articles; three share a created_at, so the id must break the tie.
    let mut expected = Vec::new();
    for i in 0..7u64 {
        let created = T0 + Duration::from_secs(if i < 3 { 0 } else { i });
        let a = article(&format!("Article {i}"), created);
        store.insert(&a).await.unwrap();
        expected.push(a);
    }
    expected.sort_by_key(|a| (a.created_at, a.id.as_uuid()));

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(&PageRequest {
                limit: 3,
                after,
                status: None,
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.articles.len() <= 3);
        seen.extend(page.articles.clone());
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.articles.last().map(Cursor::after));
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);

    // An exact multiple of the page size ends without an empty extra page.
    let whole = store
        .list(&PageRequest {
            limit: 7,
            after: None,
            status: None,
        })
        .await
        .unwrap();
    assert_eq!(whole.articles, expected);
    assert_eq!(whole.next, None);
}

async fn list_filters_by_status(store: &dyn ArticleStore) {
    let mut published = Vec::new();
    for i in 0..4u64 {
        let mut a = article(&format!("Article {i}"), T0 + Duration::from_secs(i));
        if i % 2 == 1 {
            a.status = Status::Published;
            published.push(a.clone());
        }
        store.insert(&a).await.unwrap();
    }
    let first = store
        .list(&PageRequest {
            limit: 1,
            after: None,
            status: Some(Status::Published),
        })
        .await
        .unwrap();
    assert_eq!(first.articles, published[..1]);
    let second = store
        .list(&PageRequest {
            limit: 1,
            after: first.next,
            status: Some(Status::Published),
        })
        .await
        .unwrap();
    assert_eq!(second.articles, published[1..]);
    assert_eq!(second.next, None);
}

async fn publication_claim_is_exclusive(store: &dyn ArticleStore) {
    let a = article("Booked once", T0);
    store.insert(&a).await.unwrap();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let stale_before = T0 - Duration::from_secs(60);
    assert!(
        store
            .claim_publication(a.id, first, T0, stale_before)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_publication(a.id, second, T0, stale_before)
            .await
            .unwrap()
    );
    // The loser cannot complete; the article is untouched.
    assert_eq!(
        store
            .complete_publication(a.id, second, "ev-x", T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(a.id).await.unwrap().as_ref(), Some(&a));

    let later = T0 + Duration::from_secs(1);
    let booked = store
        .complete_publication(a.id, first, "ev-1", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booked.status, Status::Scheduled);
    assert_eq!(booked.schedule_event_id.as_deref(), Some("ev-1"));
    assert_eq!(booked.updated_at, later);
    assert_eq!(booked.title, a.title);
    assert_eq!(store.get(a.id).await.unwrap(), Some(booked.clone()));

    // Once booked, nobody can claim it again, not even much later.
    let much_later = T0 + Duration::from_secs(3600);
    assert!(
        !store
            .claim_publication(a.id, second, much_later, much_later)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .complete_publication(a.id, first, "ev-2", much_later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(a.id).await.unwrap(), Some(booked));

    // Unknown articles cannot be claimed.
    assert!(
        !store
            .claim_publication(ArticleId::random(), first, T0, stale_before)
            .await
            .unwrap()
    );
}

async fn stale_claim_can_be_taken_over(store: &dyn ArticleStore) {
    let a = article("Crashed booker", T0);
    store.insert(&a).await.unwrap();
    let (crashed, next) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(
        store
            .claim_publication(a.id, crashed, T0, T0)
            .await
            .unwrap()
    );
    let later = T0 + Duration::from_secs(120);
    // Still fresh relative to a cutoff before the claim.
    assert!(
        !store
            .claim_publication(a.id, next, later, T0)
            .await
            .unwrap()
    );
    // Stale relative to a cutoff after it.
    let cutoff = T0 + Duration::from_secs(60);
    assert!(
        store
            .claim_publication(a.id, next, later, cutoff)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .complete_publication(a.id, crashed, "ev-old", later)
            .await
            .unwrap(),
        None
    );
    let booked = store
        .complete_publication(a.id, next, "ev-new", later)
        .await;
    assert_eq!(
        booked.unwrap().unwrap().schedule_event_id.as_deref(),
        Some("ev-new")
    );
}

async fn released_claim_leaves_article_unchanged(store: &dyn ArticleStore) {
    let a = article("Failed booking", T0);
    store.insert(&a).await.unwrap();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(store.claim_publication(a.id, first, T0, T0).await.unwrap());
    // Releasing someone else's claim does nothing.
    store.release_publication(a.id, second).await.unwrap();
    assert!(!store.claim_publication(a.id, second, T0, T0).await.unwrap());
    store.release_publication(a.id, first).await.unwrap();
    assert_eq!(store.get(a.id).await.unwrap(), Some(a.clone()));
    assert!(store.claim_publication(a.id, second, T0, T0).await.unwrap());
}

#[cfg(feature = "postgres")]
#[test]
fn database_name_is_replaced() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

#[tokio::test]
async fn sqlite_file_is_created_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("articles.db");
    let url = format!("sqlite://{}", path.display());
    let a = article("Persisted", T0);
    {
        let store = super::connect(&url).await.unwrap();
        store.insert(&a).await.unwrap();
    }
    assert!(path.exists());
    let again = super::connect(&url).await.unwrap();
    assert_eq!(again.get(a.id).await.unwrap(), Some(a));
}

#[tokio::test]
async fn unknown_scheme_is_refused_without_echoing_the_url() {
    let err = super::connect("mysql://user:hunter2@host/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"));
}
