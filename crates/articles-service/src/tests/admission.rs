//! Bounded admission for the `/articles` routes: with the database held (a lock another
//! connection keeps), one request runs, one waits, and the next is refused at once with
//! the `database-busy` problem (`503`, `Retry-After`); once the database is free, the two
//! admitted requests complete and nothing else was written. On SQLite always, on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

use server_kit::admission::AdmissionLimits;
use sqlx::Connection as _;

use super::*;

fn config() -> Config {
    Config {
        admission: AdmissionLimits {
            in_flight: 1,
            queue: 1,
        },
        ..Config::new("http://127.0.0.1:9")
    }
}

/// Yields until `condition` holds: the requests run on other tasks, and their progress is
/// read from the admission's counters, not guessed from time.
async fn until(condition: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the condition never held");
}

fn assert_busy(reply: &Reply) {
    let problem = reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        problem["type"],
        "urn:s2s:articles-service:problem:database-busy"
    );
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
}

fn titled(title: &str) -> Value {
    let mut body = valid();
    body["title"] = json!(title);
    body
}

/// The scenario, on an app whose database is held until `release` completes.
async fn refuses_past_the_queue_and_loses_nothing(app: App, release: impl Future<Output = ()>) {
    let app = Arc::new(app);
    let admission = app.state.admission().clone();
    let spawn_create = |title: &'static str| {
        let app = app.clone();
        tokio::spawn(async move { app.post_article(titled(title)).await })
    };

    let first = spawn_create("first");
    until(|| admission.running() == 1).await;
    let second = spawn_create("second");
    until(|| admission.waiting() == 1).await;

    // Full: refused at once (the database is still held, so this answer cannot have
    // waited for it), reads as well as writes.
    assert_busy(&app.post_article(titled("refused")).await);
    assert_busy(&app.call(Method::GET, "/articles", None).await);
    // Operations routes are never refused.
    let health = app.call(Method::GET, "/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!((admission.running(), admission.waiting()), (1, 1));

    release.await;
    for request in [first, second] {
        let created = request.await.unwrap();
        assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    }
    assert_eq!((admission.running(), admission.waiting()), (0, 0));
    let mut titles: Vec<String> = app
        .all()
        .await
        .into_iter()
        .map(|a| a.title.as_str().to_owned())
        .collect();
    titles.sort_unstable();
    assert_eq!(titles, ["first", "second"]);
    // Every task holding the app has finished.
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("the app is still shared");
    };
    drop(app.state);
    drop(app.router);
    app.db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_held_database_refuses_past_the_queue_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("articles.db").display());
    let app = App::with_config(TestDb::sqlite_at(&url).await, config()).await;
    // Another connection takes the write lock: the service's writes wait for it (its
    // busy timeout is 5 s; the lock is released long before).
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    refuses_past_the_queue_and_loses_nothing(app, async move {
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    })
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_held_database_refuses_past_the_queue_and_loses_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let url = db.postgres_url().unwrap();
    let app = App::with_config(db, config()).await;
    // Another connection locks the table: every query of the service waits for it.
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    refuses_past_the_queue_and_loses_nothing(app, async move {
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        holder.close().await.unwrap();
    })
    .await;
}
