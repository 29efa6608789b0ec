//! The store conformance suite: the same checks on SQLite (always) and PostgreSQL (when
//! `TEST_DATABASE_URL` is set; each test gets its own database, dropped at the end).

use std::sync::Arc;

use user_schedule_service::domain::{Event, EventDraft, EventId, Notes, Timestamp, Title, UserId};
use user_schedule_service::store::{self, ListQuery, ScheduleStore, StoreError};

use crate::helpers::{PgDatabase, random_bytes};

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(seconds * 1_000_000_000)
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn event(user_id: &str, id_byte: u8, starts: i64, ends: i64) -> Event {
    Event {
        id: EventId::from_random_bytes([id_byte; 16]),
        user_id: user(user_id),
        draft: EventDraft {
            title: Title::parse(&format!("event {id_byte}")).unwrap(),
            starts_at: ts(starts),
            ends_at: ts(ends),
            notes: Some(Notes::parse("bring coffee").unwrap()),
        },
        created_by: "articles_service".to_owned(),
        created_at: ts(1),
        updated_at: ts(1),
        version: 1,
    }
}

fn query(limit: u32) -> ListQuery {
    ListQuery {
        from: None,
        to: None,
        after: None,
        limit,
    }
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

async fn round_trips_every_field(store: Arc<dyn ScheduleStore>) {
    store.ping().await.unwrap();
    let mut e = event("alice", 1, 100, 200);
    e.draft.starts_at = Timestamp::from_unix_nanos(100_123_456_789);
    store.create_event(&e).await.unwrap();
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), e);
    let mut no_notes = event("alice", 2, 100, 200);
    no_notes.draft.notes = None;
    store.create_event(&no_notes).await.unwrap();
    assert_eq!(
        store
            .get_event(&no_notes.user_id, no_notes.id)
            .await
            .unwrap(),
        no_notes
    );
}

async fn unknown_users_and_events(store: Arc<dyn ScheduleStore>) {
    let e = event("alice", 1, 100, 200);
    assert!(matches!(
        store.get_event(&e.user_id, e.id).await,
        Err(StoreError::UnknownUser(_))
    ));
    assert!(matches!(
        store.list_events(&e.user_id, &query(10)).await,
        Err(StoreError::UnknownUser(_))
    ));
    store.create_event(&e).await.unwrap();
    let other = EventId::from_random_bytes([9; 16]);
    assert!(matches!(
        store.get_event(&e.user_id, other).await,
        Err(StoreError::UnknownEvent(id)) if id == other
    ));
    // Another user cannot see alice's event under their own id.
    store
        .create_event(&event("bob", 2, 100, 200))
        .await
        .unwrap();
    assert!(matches!(
        store.get_event(&user("bob"), e.id).await,
        Err(StoreError::UnknownEvent(_))
    ));
    assert_eq!(
        ids(&store.list_events(&user("bob"), &query(10)).await.unwrap()).len(),
        1
    );
}

async fn duplicate_ids_write_nothing(store: Arc<dyn ScheduleStore>) {
    let e = event("alice", 1, 100, 200);
    store.create_event(&e).await.unwrap();
    let mut again = event("carol", 1, 300, 400);
    again.draft.title = Title::parse("other").unwrap();
    assert!(matches!(
        store.create_event(&again).await,
        Err(StoreError::DuplicateEvent(_))
    ));
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), e);
    // The transaction rolled back: carol did not become known.
    assert!(matches!(
        store.list_events(&user("carol"), &query(10)).await,
        Err(StoreError::UnknownUser(_))
    ));
}

async fn lists_in_order_with_filters_and_keyset(store: Arc<dyn ScheduleStore>) {
    // Two events share a start time: the id breaks the tie.
    let events = [
        event("alice", 5, 300, 400),
        event("alice", 3, 100, 200),
        event("alice", 4, 100, 150),
        event("alice", 1, 500, 600),
    ];
    for e in &events {
        store.create_event(e).await.unwrap();
    }
    store
        .create_event(&event("bob", 2, 100, 200))
        .await
        .unwrap();
    let all = store.list_events(&user("alice"), &query(10)).await.unwrap();
    let expected = vec![events[1].id, events[2].id, events[0].id, events[3].id];
    assert_eq!(ids(&all), expected);

    // Overlap: ends after `from` and starts before `to`.
    let window = ListQuery {
        from: Some(ts(150)),
        to: Some(ts(500)),
        ..query(10)
    };
    let overlapping = store.list_events(&user("alice"), &window).await.unwrap();
    assert_eq!(ids(&overlapping), vec![events[1].id, events[0].id]);

    // Keyset: strictly after (starts_at, id), including inside a tie.
    let after_first = ListQuery {
        after: Some((all[0].draft.starts_at, all[0].id)),
        ..query(2)
    };
    let page = store
        .list_events(&user("alice"), &after_first)
        .await
        .unwrap();
    assert_eq!(ids(&page), expected[1..3].to_vec());
    let limited = store.list_events(&user("alice"), &query(1)).await.unwrap();
    assert_eq!(ids(&limited), expected[..1].to_vec());
}

async fn replace_checks_version_atomically(store: Arc<dyn ScheduleStore>) {
    let e = event("alice", 1, 100, 200);
    store.create_event(&e).await.unwrap();
    let mut draft = e.draft.clone();
    draft.title = Title::parse("moved").unwrap();
    draft.notes = None;
    draft.starts_at = ts(1000);
    draft.ends_at = ts(2000);

    let refused = store
        .replace_event(&e.user_id, e.id, &draft, ts(5), Some(7))
        .await;
    assert!(matches!(
        refused,
        Err(StoreError::VersionMismatch {
            expected: 7,
            current: 1,
            ..
        })
    ));
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), e);

    let replaced = store
        .replace_event(&e.user_id, e.id, &draft, ts(5), Some(1))
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.draft, draft);
    assert_eq!(replaced.created_at, e.created_at);
    assert_eq!(replaced.updated_at, ts(5));
    assert_eq!(replaced.created_by, e.created_by);
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), replaced);

    let unconditional = store
        .replace_event(&e.user_id, e.id, &e.draft, ts(6), None)
        .await
        .unwrap();
    assert_eq!(unconditional.version, 3);

    let missing = EventId::from_random_bytes([8; 16]);
    assert!(matches!(
        store
            .replace_event(&e.user_id, missing, &draft, ts(7), None)
            .await,
        Err(StoreError::UnknownEvent(_))
    ));
    assert!(matches!(
        store
            .replace_event(&user("nobody"), e.id, &draft, ts(7), None)
            .await,
        Err(StoreError::UnknownUser(_))
    ));
}

async fn delete_checks_version_and_keeps_user(store: Arc<dyn ScheduleStore>) {
    let e = event("alice", 1, 100, 200);
    store.create_event(&e).await.unwrap();
    assert!(matches!(
        store.delete_event(&e.user_id, e.id, Some(2)).await,
        Err(StoreError::VersionMismatch { .. })
    ));
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), e);
    store.delete_event(&e.user_id, e.id, Some(1)).await.unwrap();
    assert!(matches!(
        store.get_event(&e.user_id, e.id).await,
        Err(StoreError::UnknownEvent(_))
    ));
    assert!(matches!(
        store.delete_event(&e.user_id, e.id, None).await,
        Err(StoreError::UnknownEvent(_))
    ));
    assert!(
        store
            .list_events(&e.user_id, &query(10))
            .await
            .unwrap()
            .is_empty()
    );
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = super::store::connect("sqlite::memory:").await.unwrap();
                    super::$check(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(db) = super::PgDatabase::create().await else { return };
                    let store = super::store::connect(db.url()).await.unwrap();
                    super::$check(store).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

conformance!(
    round_trips_every_field,
    unknown_users_and_events,
    duplicate_ids_write_nothing,
    lists_in_order_with_filters_and_keyset,
    replace_checks_version_atomically,
    delete_checks_version_and_keeps_user,
);

#[tokio::test]
async fn sqlite_file_persists_and_migrations_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("schedule.db").display());
    let e = event("alice", 1, 100, 200);
    {
        let store = store::connect(&url).await.unwrap();
        store.create_event(&e).await.unwrap();
    }
    let store = store::connect(&url).await.unwrap();
    assert_eq!(store.get_event(&e.user_id, e.id).await.unwrap(), e);
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_secrets() {
    let error = store::connect("mysql://root:hunter2@db/x")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)));
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let _ = random_bytes();
}
