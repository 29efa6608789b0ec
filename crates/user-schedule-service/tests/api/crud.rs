//! The schedule API's behaviour behind a caller holding both scopes: CRUD, pagination,
//! If-Match, validation.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, event_body};

#[tokio::test]
async fn create_read_replace_delete() {
    let app = TestApp::spawn().await;
    let created = app
        .create_event(
            "alice",
            &json!({
                "title": "Quarterly review",
                "starts_at": "2026-01-05T10:00:00+01:00",
                "ends_at": "2026-01-05T11:00:00+01:00",
                "notes": "room 4"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    assert_eq!(
        created.header("location").unwrap(),
        format!("/users/alice/schedule/events/{id}")
    );
    assert_eq!(created.body["title"], "Quarterly review");
    assert_eq!(created.body["starts_at"], "2026-01-05T09:00:00Z");
    assert_eq!(created.body["ends_at"], "2026-01-05T10:00:00Z");
    assert_eq!(created.body["notes"], "room 4");
    assert_eq!(created.body["created_by"], app.expected_client_id());
    assert_eq!(created.body["created_at"], "2026-01-01T00:00:00Z");
    assert_eq!(created.body["updated_at"], "2026-01-01T00:00:00Z");
    let etag = created.etag();

    let read = app.get_event("alice", &id).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);
    assert_eq!(read.etag(), etag);

    app.clock.advance(Duration::from_secs(60));
    let replaced = app
        .replace_event("alice", &id, &event_body("Moved review", 14), Some(&etag))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(replaced.body["title"], "Moved review");
    assert_eq!(
        replaced.body.get("notes"),
        None,
        "PUT replaces: notes are gone"
    );
    assert_eq!(replaced.body["created_at"], "2026-01-01T00:00:00Z");
    assert_eq!(replaced.body["updated_at"], "2026-01-01T00:01:00Z");
    assert_ne!(replaced.etag(), etag);
    assert_eq!(app.get_event("alice", &id).await.body, replaced.body);

    let list = app.list_schedule("alice", "").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["events"], json!([replaced.body]));
    assert_eq!(list.body["next_cursor"], json!(null));

    let deleted = app.delete_event("alice", &id, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.get_event("alice", &id)
        .await
        .problem(StatusCode::NOT_FOUND);
    // The user stays known with an empty schedule.
    let list = app.list_schedule("alice", "").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["events"], json!([]));
}

#[tokio::test]
async fn unknown_users_and_events_are_404() {
    let app = TestApp::spawn().await;
    // A user with no events has an empty schedule, not a missing one.
    let empty = app.list_schedule("nobody", "").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["events"], json!([]));
    assert_eq!(empty.body["next_cursor"], json!(null));
    let missing = "7b0a3d1c-2a44-4c5e-9d2b-0f6f1a2b3c4d";
    let problem = app.get_event("nobody", missing).await;
    assert!(
        problem.problem(StatusCode::NOT_FOUND)["detail"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    app.replace_event("nobody", missing, &event_body("x", 1), None)
        .await
        .problem(StatusCode::NOT_FOUND);
    app.delete_event("nobody", missing, None)
        .await
        .problem(StatusCode::NOT_FOUND);
    // The failed PUT created no event.
    assert_eq!(
        app.list_schedule("nobody", "").await.body["events"],
        json!([])
    );

    app.create_event("alice", &event_body("a", 1)).await;
    app.get_event("alice", missing)
        .await
        .problem(StatusCode::NOT_FOUND);
    app.delete_event("alice", missing, None)
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_ids_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let bad_user = app.list_schedule("al%20ice", "").await;
    bad_user.problem(StatusCode::BAD_REQUEST);
    assert_eq!(bad_user.problem_fields(), ["user_id"]);
    let long = "a".repeat(65);
    assert_eq!(
        app.create_event(&long, &event_body("x", 1))
            .await
            .problem_fields(),
        ["user_id"]
    );
    let bad_event = app.get_event("alice", "not-a-uuid").await;
    bad_event.problem(StatusCode::BAD_REQUEST);
    assert_eq!(bad_event.problem_fields(), ["event_id"]);
}

#[tokio::test]
async fn pagination_has_no_duplicates_or_gaps() {
    let app = TestApp::spawn().await;
    // 11 events; several share a start time so the id must break ties.
    let mut created = Vec::new();
    for i in 0..11u32 {
        let response = app
            .create_event("alice", &event_body(&format!("event {i}"), i % 4))
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
        created.push(response.body);
    }
    let all = app.list_schedule("alice", "limit=200").await;
    let everything: Vec<_> = all.body["events"].as_array().unwrap().clone();
    assert_eq!(everything.len(), 11);
    let order: Vec<(String, String)> = everything
        .iter()
        .map(|e| {
            (
                e["starts_at"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "events come in (starts_at, id) order");

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let page = app.list_schedule("alice", &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let events = page.body["events"].as_array().unwrap();
        assert!(events.len() <= 3);
        paged.extend(events.iter().cloned());
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(paged, everything);
    let unique: HashSet<_> = paged.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 11);

    // An exact multiple of the page size ends without an empty extra page.
    let page = app.list_schedule("alice", "limit=11").await;
    assert_eq!(page.body["next_cursor"], json!(null));
}

#[tokio::test]
async fn from_and_to_select_overlapping_events() {
    let app = TestApp::spawn().await;
    for hour in [1, 3, 5] {
        app.create_event("alice", &event_body(&format!("at {hour}"), hour))
            .await;
    }
    // 03:15–05:00 overlaps the 03:00–03:30 event only (05:00–05:30 starts at `to`).
    let page = app
        .list_schedule("alice", "from=2026-01-01T03:15:00Z&to=2026-01-01T05:00:00Z")
        .await;
    let titles: Vec<_> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["at 3"]);
}

#[tokio::test]
async fn malformed_list_parameters_are_400() {
    let app = TestApp::spawn().await;
    app.create_event("alice", &event_body("a", 1)).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage!", "cursor"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ] {
        let response = app.list_schedule("alice", query).await;
        response.problem(StatusCode::BAD_REQUEST);
        assert_eq!(response.problem_fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn if_match_protects_against_lost_updates() {
    let app = TestApp::spawn().await;
    let created = app.create_event("alice", &event_body("original", 1)).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let first_etag = created.etag();

    // Caller A replaces with the current ETag.
    let a = app
        .replace_event("alice", &id, &event_body("by A", 2), Some(&first_etag))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    // Caller B still holds the first ETag: refused, nothing written.
    let b = app
        .replace_event("alice", &id, &event_body("by B", 3), Some(&first_etag))
        .await;
    b.problem(StatusCode::PRECONDITION_FAILED);
    assert_eq!(b.etag(), a.etag(), "the 412 names the current ETag");
    assert_eq!(app.get_event("alice", &id).await.body, a.body);

    // Weak tags never match; `*` and a list holding the current tag do.
    let weak = format!("W/{}", a.etag());
    app.replace_event("alice", &id, &event_body("weak", 4), Some(&weak))
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    let star = app
        .replace_event("alice", &id, &event_body("star", 4), Some("*"))
        .await;
    assert_eq!(star.status, StatusCode::OK);
    let list = format!("\"999\", {}", star.etag());
    let listed = app
        .replace_event("alice", &id, &event_body("listed", 5), Some(&list))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    app.replace_event("alice", &id, &event_body("x", 5), Some("not-a-tag"))
        .await
        .problem(StatusCode::BAD_REQUEST);

    // DELETE honours If-Match too.
    app.delete_event("alice", &id, Some(&first_etag))
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get_event("alice", &id).await.status, StatusCode::OK);
    let deleted = app.delete_event("alice", &id, Some(&listed.etag())).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn invalid_values_are_422_naming_each_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"title": "x", "starts_at": "2026-01-01T10:00:00Z", "ends_at": "2026-01-01T09:00:00Z"}),
            vec!["ends_at"],
        ),
        (
            json!({"title": "x".repeat(201), "starts_at": "2026-01-01T10:00:00Z", "ends_at": "2026-01-01T11:00:00Z"}),
            vec!["title"],
        ),
        (
            json!({"title": "", "starts_at": "tomorrow", "notes": 5}),
            vec!["title", "starts_at", "ends_at", "notes"],
        ),
        (
            json!({"title": "x", "start_at": "2026-01-01T10:00:00Z", "ends_at": "2026-01-01T11:00:00Z"}),
            vec!["body", "starts_at"],
        ),
    ];
    for (body, fields) in &cases {
        let response = app.create_event("alice", body).await;
        response.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(&response.problem_fields(), fields, "{body}");
    }
    // None of them made alice known.
    let alice = user_schedule_service::domain::UserId::parse("alice").unwrap();
    let query = user_schedule_service::store::ListQuery {
        from: None,
        to: None,
        after: None,
        limit: 10,
    };
    assert!(matches!(
        app.store.list_events(&alice, &query).await,
        Err(user_schedule_service::store::StoreError::UnknownUser(_))
    ));

    let created = app.create_event("alice", &event_body("keep me", 1)).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    for (body, _) in &cases {
        app.replace_event("alice", &id, body, None)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let after = app.get_event("alice", &id).await;
    assert_eq!(after.body, created.body);
    assert_eq!(after.etag(), created.etag());
    let list = app.list_schedule("alice", "").await;
    assert_eq!(list.body["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_or_415() {
    let app = TestApp::spawn().await;
    let send_raw = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = app.request(Method::POST, "/users/alice/schedule/events", None);
        if let Some(ct) = content_type {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        *request.body_mut() = Body::from(body);
        request
    };
    app.send(send_raw(Some("application/json"), "{not json"))
        .await
        .problem(StatusCode::BAD_REQUEST);
    app.send(send_raw(Some("application/json"), "[1, 2]"))
        .await
        .problem(StatusCode::BAD_REQUEST);
    app.send(send_raw(None, "{}"))
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = Request::builder()
        .method(Method::POST)
        .uri("/users/alice/schedule/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            "{{\"notes\": \"{}\"}}",
            "x".repeat(70_000)
        )))
        .unwrap();
    let mut huge = huge;
    if let Some(auth) = &app.authorization {
        huge.headers_mut()
            .insert(header::AUTHORIZATION, auth.parse().unwrap());
    }
    let response = app.send(huge).await;
    response.problem(StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was stored.
    assert_eq!(
        app.list_schedule("alice", "").await.body["events"],
        json!([])
    );
}

#[tokio::test]
async fn the_benchmark_router_runs_without_tokens() {
    let app = TestApp::spawn().await;
    let state = user_schedule_service::AppState::new(
        Default::default(),
        app.store.clone(),
        crate::helpers::verifier_for(&app.issuer).await,
        std::sync::Arc::new(app.clock.clone()),
    );
    let bench = TestApp {
        router: user_schedule_service::router_without_auth_for_benchmarks(state),
        authorization: None,
        ..app
    };
    let created = bench.create_event("alice", &event_body("bench", 1)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["created_by"], "bench-client");
    assert_eq!(
        bench.list_schedule("alice", "").await.status,
        StatusCode::OK
    );
}
