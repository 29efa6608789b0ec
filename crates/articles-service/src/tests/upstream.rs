//! The routes that call user-schedule-service: author schedule and publication,
//! and how each upstream failure is answered.

use super::*;

use super::fake_schedules::{FakeUpstream, Mode};

on_every_backend!(
    author_schedule_reads_the_window_around_publish_at,
    author_schedule_without_publish_at_looks_ahead,
    publication_books_once,
    concurrent_publications_book_once,
    publication_needs_publish_at,
    refusals_are_502_and_change_nothing,
    upstream_down_is_503_and_changes_nothing,
    upstream_hanging_is_504_and_changes_nothing,
    lost_answer_is_not_booked_twice,
);

async fn author_schedule_reads_the_window_around_publish_at(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;

    // No events yet: an empty schedule → an empty list.
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "author_id": "alice",
            "from": "2026-04-24T09:00:00Z",
            "to": "2026-05-08T09:00:00Z",
            "events": [],
        })
    );
    let query = upstream.state.queries.lock().unwrap()[0].clone();
    assert_eq!(query["from"], "2026-04-24T09:00:00Z");
    assert_eq!(query["to"], "2026-05-08T09:00:00Z");

    // Two events over two upstream pages come back in order.
    for title in ["Dentist", "Offsite"] {
        upstream.state.events.lock().unwrap().push((
            "alice".to_owned(),
            json!({"id": title, "title": title, "starts_at": "2026-05-02T10:00:00Z",
                   "ends_at": "2026-05-02T11:00:00Z", "notes": "n", "created_by": "alice",
                   "created_at": "2026-04-01T00:00:00Z", "updated_at": "2026-04-01T00:00:00Z"}),
        ));
    }
    upstream.state.events.lock().unwrap().push((
        "bob".to_owned(),
        json!({"id": "x", "title": "Not alice's", "starts_at": "2026-05-02T10:00:00Z",
               "ends_at": "2026-05-02T11:00:00Z", "created_by": "bob",
               "created_at": "2026-04-01T00:00:00Z", "updated_at": "2026-04-01T00:00:00Z"}),
    ));
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    let titles: Vec<&str> = reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Dentist", "Offsite"]);
    assert_eq!(reply.body["events"][0]["notes"], "n");

    app.call(
        Method::GET,
        &format!("/articles/{}/author-schedule", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND);
    app.db.finish().await;
}

async fn author_schedule_without_publish_at_looks_ahead(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let mut body = valid();
    body.as_object_mut().unwrap().remove("publish_at");
    let id = app.create(body).await;
    app.clock.advance(Duration::from_secs(3600));
    let reply = app
        .call(
            Method::GET,
            &format!("/articles/{id}/author-schedule"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(reply.body["from"], "2026-04-01T01:00:00Z");
    assert_eq!(reply.body["to"], "2026-04-15T01:00:00Z");
    app.db.finish().await;
}

async fn publication_books_once(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;
    app.clock.advance(Duration::from_secs(5));

    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "scheduled");
    assert_eq!(reply.body["schedule_event_id"], "ev-0");
    assert_eq!(reply.body["updated_at"], "2026-04-01T00:00:05Z");
    let (user, event) = upstream.state.events.lock().unwrap()[0].clone();
    assert_eq!(user, "alice");
    assert_eq!(event["title"], "Publish: Spring launch");
    assert_eq!(event["starts_at"], "2026-05-01T09:00:00Z");
    assert_eq!(event["ends_at"], "2026-05-01T09:30:00Z");

    let again = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, reply.body);
    assert_eq!(upstream.event_count(), 1);
    let stored = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(stored.body, reply.body);

    app.call(
        Method::POST,
        &format!("/articles/{}/publication", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND);
    app.db.finish().await;
}

async fn concurrent_publications_book_once(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = Arc::new(App::new(db, &upstream.url).await);
    let id = app.create(valid()).await;
    let calls = (0..8).map(|_| {
        let app = app.clone();
        let uri = format!("/articles/{id}/publication");
        tokio::spawn(async move { app.call(Method::POST, &uri, None).await })
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().status);
    }
    assert_eq!(upstream.event_count(), 1, "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    // The others either saw it booked (200) or in progress (409).
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    let stored = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(stored.body["schedule_event_id"], "ev-0");
    let app = Arc::try_unwrap(app).ok().unwrap();
    app.db.finish().await;
}

async fn publication_needs_publish_at(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let mut body = valid();
    body["publish_at"] = Value::Null;
    let id = app.create(body).await;
    let before = app.all().await;
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["publish_at"]);
    assert_eq!(upstream.event_count(), 0);
    assert_eq!(app.all().await, before);
    app.db.finish().await;
}

async fn refusals_are_502_and_change_nothing(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    let app = App::new(db, &upstream.url).await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    upstream.set(Mode::Refuse403);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
    assert_eq!(problem["title"], "user-schedule-service refused the call");
    assert_eq!(
        problem["detail"],
        "user-schedule-service refused: this service lacks scope user-schedule-service/schedule.update"
    );
    assert_eq!(problem["upstream_status"], 403);
    assert_eq!(
        problem["missing_scope"],
        "user-schedule-service/schedule.update"
    );
    assert_eq!(app.all().await, before);

    upstream.set(Mode::Refuse401);
    for uri in [
        format!("/articles/{id}/publication"),
        format!("/articles/{id}/author-schedule"),
    ] {
        let method = if uri.ends_with("publication") {
            Method::POST
        } else {
            Method::GET
        };
        let reply = app.call(method, &uri, None).await;
        let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
        assert_eq!(problem["upstream_status"], 401);
        assert!(problem.get("missing_scope").is_none());
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("invalid_token")
        );
    }

    upstream.set(Mode::Fail500);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    let problem = reply.assert_problem(StatusCode::BAD_GATEWAY);
    assert_eq!(problem["upstream_status"], 500);
    assert!(problem["detail"].as_str().unwrap().contains("disk full"));
    assert_eq!(app.all().await, before);
    assert_eq!(upstream.event_count(), 0);

    // The claim was released each time: once the upstream accepts, the booking succeeds.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    app.db.finish().await;
}

async fn upstream_down_is_503_and_changes_nothing(db: TestDb) {
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = App::new(db, &dead).await;
    let id = app.create(valid()).await;
    let before = app.all().await;
    for (method, uri) in [
        (Method::POST, format!("/articles/{id}/publication")),
        (Method::GET, format!("/articles/{id}/author-schedule")),
    ] {
        let reply = app.call(method, &uri, None).await;
        let problem = reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            problem["detail"].as_str().unwrap().contains("unreachable"),
            "{problem:#}"
        );
    }
    assert_eq!(app.all().await, before);
    app.db.finish().await;
}

async fn upstream_hanging_is_504_and_changes_nothing(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    upstream.set(Mode::Hang);
    let mut config = Config::new(&upstream.url);
    config.upstream_timeout = Duration::from_secs(1);
    let app = App::with_config(db, config).await;
    let id = app.create(valid()).await;
    let before = app.all().await;
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(app.all().await, before);

    // The claim was released: a later booking goes through.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(upstream.event_count(), 1);
    app.db.finish().await;
}

async fn lost_answer_is_not_booked_twice(db: TestDb) {
    let upstream = FakeUpstream::spawn().await;
    upstream.set(Mode::CreateThenHang);
    let mut config = Config::new(&upstream.url);
    config.upstream_timeout = Duration::from_secs(1);
    let app = App::with_config(db, config).await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    // The event is stored upstream but the answer never comes.
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    reply.assert_problem(StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(app.all().await, before);
    assert_eq!(upstream.event_count(), 1);

    // The retry finds it and records it instead of booking a second one.
    upstream.set(Mode::Normal);
    let reply = app
        .call(Method::POST, &format!("/articles/{id}/publication"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(reply.body["schedule_event_id"], "ev-0");
    assert_eq!(reply.body["status"], "scheduled");
    assert_eq!(upstream.event_count(), 1);

    // An event that merely overlaps (other title) is not taken for the booking.
    let mut other = valid();
    other["title"] = json!("Other launch");
    let other_id = app.create(other).await;
    let reply = app
        .call(
            Method::POST,
            &format!("/articles/{other_id}/publication"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
    assert_eq!(reply.body["schedule_event_id"], "ev-1");
    assert_eq!(upstream.event_count(), 2);
    app.db.finish().await;
}
