//! Losing the database: connections terminated under load, and a database that refuses
//! connections, are answered with a retryable `503` problem document with `Retry-After`
//! (never a `500`), and the service recovers without a restart. PostgreSQL only: skipped,
//! with a note, when `TEST_DATABASE_URL` is unset. Only the articles API is exercised, so
//! no upstream runs: the token provider points at a port nothing listens on, unused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server_kit::test_util::{TestPostgres, assert_database_unavailable_problem};

use crate::helpers::{AppClient, articles_service_over, provider};

const CLIENTS: usize = 8;
const REQUESTS_PER_CLIENT: usize = 40;

/// articles-service over `database_url`, with user-schedule-service and the token
/// endpoint never called.
async fn articles_over(database_url: &str) -> crate::helpers::Running {
    let unused = AppClient {
        client_id: "unused".to_owned(),
        secret: "unused".to_owned(),
    };
    let tokens = provider("http://127.0.0.1:9/oauth2/token", &unused, None);
    articles_service_over(
        database_url,
        articles_service::Config::new("http://127.0.0.1:9"),
        tokens,
    )
    .await
}

/// One answer: status, headers and raw body.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// 2xx, or the database-unavailable problem (anything else fails the test); whether it
    /// was a 503.
    fn success_or_unavailable(&self) -> bool {
        if self.status.is_success() {
            return false;
        }
        assert_database_unavailable_problem(self.status.as_u16(), &self.headers, &self.body);
        true
    }
}

async fn send(http: &reqwest::Client, method: Method, url: String, body: Option<Value>) -> Answer {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

fn article(n: usize) -> Value {
    json!({
        "title": format!("Article {n}"),
        "body": "Text.",
        "author_id": "carol",
        "publish_at": "2030-09-01T09:00:00Z",
    })
}

/// One client: create an article, read it back, list. Returns how many answers were 503s.
async fn client_load(base: String, client: usize) -> usize {
    let http = reqwest::Client::new();
    let mut unavailable = 0;
    for i in 0..REQUESTS_PER_CLIENT {
        let created = send(
            &http,
            Method::POST,
            format!("{base}/articles"),
            Some(article(client * 1000 + i)),
        )
        .await;
        unavailable += usize::from(created.success_or_unavailable());
        if created.status == StatusCode::CREATED {
            let id = created.json()["id"].as_str().unwrap().to_owned();
            let read = send(&http, Method::GET, format!("{base}/articles/{id}"), None).await;
            unavailable += usize::from(read.success_or_unavailable());
        }
        let listed = send(&http, Method::GET, format!("{base}/articles?limit=5"), None).await;
        unavailable += usize::from(listed.success_or_unavailable());
    }
    unavailable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_connections_terminated_under_load_are_503_with_retry_after() {
    let Some(db) = TestPostgres::create("articles_dbloss").await else {
        return;
    };
    let articles = articles_over(&db.url).await;

    let killer = db.start_killing_connections().await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(client_load(articles.url.clone(), client)))
        .collect();
    let mut unavailable = 0;
    for client in clients {
        unavailable += client.await.unwrap();
    }
    let terminated = killer.stop().await;
    eprintln!("{terminated} connections terminated; {unavailable} answers were 503");
    assert!(
        terminated > 0,
        "no connection was terminated: the test proves nothing"
    );

    // Recovery: with the killing stopped, every request succeeds again, no restart.
    let http = reqwest::Client::new();
    for i in 0..10 {
        let created = send(
            &http,
            Method::POST,
            format!("{}/articles", articles.url),
            Some(article(i)),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    }

    articles.stop().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_connections_is_503_with_retry_after() {
    let Some(db) = TestPostgres::create("articles_refused").await else {
        return;
    };
    let (relay, url) = db.relay().await;
    let articles = articles_over(&url).await;
    let http = reqwest::Client::new();
    let created = send(
        &http,
        Method::POST,
        format!("{}/articles", articles.url),
        Some(article(1)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    let id = created.json()["id"].as_str().unwrap().to_owned();

    // The database host goes away: open connections are cut, new ones refused.
    relay.refuse().await;

    // Concurrently: each waits for the pool's acquire timeout (5 s) before giving up.
    let (read, listed, posted) = tokio::join!(
        send(
            &http,
            Method::GET,
            format!("{}/articles/{id}", articles.url),
            None
        ),
        send(
            &http,
            Method::GET,
            format!("{}/articles", articles.url),
            None
        ),
        send(
            &http,
            Method::POST,
            format!("{}/articles", articles.url),
            Some(article(2))
        ),
    );
    for answer in [read, listed, posted] {
        assert_database_unavailable_problem(answer.status.as_u16(), &answer.headers, &answer.body);
    }

    articles.stop().await;
    db.drop_database().await;
}
