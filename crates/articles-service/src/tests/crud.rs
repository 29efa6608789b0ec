//! CRUD and pagination of `/articles`.

use super::*;

on_every_backend!(
    crud_round_trip,
    invalid_writes_change_nothing,
    malformed_requests_are_400,
    list_paginates_and_filters,
    list_parameters_are_checked,
);

async fn crud_round_trip(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let created = app.post_article(valid()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers[header::LOCATION], format!("/articles/{id}"));
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    assert_eq!(created.body["title"], "Spring launch");
    assert_eq!(created.body["body"], "We launch in spring.");
    assert_eq!(created.body["author_id"], "alice");
    assert_eq!(created.body["publish_at"], "2026-05-01T09:00:00Z");
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["created_at"], "2026-04-01T00:00:00Z");
    assert_eq!(created.body["updated_at"], "2026-04-01T00:00:00Z");
    assert!(created.body.get("schedule_event_id").is_none());

    let read = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);

    app.clock.advance(Duration::from_secs(60));
    let mut changed = read.body.clone();
    changed["title"] = json!("Summer launch");
    changed["status"] = json!("published");
    changed.as_object_mut().unwrap().remove("publish_at");
    let replaced = app
        .call(Method::PUT, &format!("/articles/{id}"), Some(changed))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{:#}", replaced.body);
    assert_eq!(replaced.body["title"], "Summer launch");
    assert_eq!(replaced.body["status"], "published");
    assert!(replaced.body.get("publish_at").is_none());
    assert_eq!(replaced.body["created_at"], "2026-04-01T00:00:00Z");
    assert_eq!(replaced.body["updated_at"], "2026-04-01T00:01:00Z");
    let read = app
        .call(Method::GET, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(read.body, replaced.body);

    let deleted = app
        .call(Method::DELETE, &format!("/articles/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &format!("/articles/{id}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::DELETE, &format!("/articles/{id}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::PUT, &format!("/articles/{id}"), Some(valid()))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    assert!(app.all().await.is_empty());
    app.db.finish().await;
}

async fn invalid_writes_change_nothing(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    // Every bad field is named at once.
    let reply = app
        .post_article(json!({
            "title": "",
            "body": "x",
            "author_id": "alice smith",
            "publish_at": "tomorrow",
            "status": "live",
        }))
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.fields(),
        ["author_id", "publish_at", "status", "title"]
    );

    let cases = [
        (json!({"body": "x", "author_id": "a"}), vec!["title"]),
        (
            json!({"title": "x".repeat(201), "body": "x", "author_id": "a"}),
            vec!["title"],
        ),
        (
            json!({"title": 5, "body": "x", "author_id": "a"}),
            vec!["title"],
        ),
        (
            json!({"title": "t", "body": null, "author_id": "a"}),
            vec!["body"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a".repeat(65)}),
            vec!["author_id"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": ".."}),
            vec!["author_id"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a", "publsh_at": "2026-01-01T00:00:00Z"}),
            vec!["publsh_at"],
        ),
        (
            json!({"title": "t", "body": "x", "author_id": "a", "publish_at": 1_700_000_000}),
            vec!["publish_at"],
        ),
    ];
    for (body, fields) in cases {
        let reply = app.post_article(body.clone()).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.fields(), fields, "{body}");
        let reply = app
            .call(Method::PUT, &format!("/articles/{id}"), Some(body.clone()))
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.fields(), fields, "{body}");
    }
    assert_eq!(app.all().await, before);

    // Read-only fields sent back are ignored, not refused.
    let mut echoed = valid();
    echoed["id"] = json!("00000000-0000-4000-8000-000000000000");
    echoed["created_at"] = json!("1999-01-01T00:00:00Z");
    echoed["schedule_event_id"] = json!("forged");
    let reply = app.post_article(echoed).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_ne!(reply.body["id"], "00000000-0000-4000-8000-000000000000");
    assert_eq!(reply.body["created_at"], "2026-04-01T00:00:00Z");
    assert!(reply.body.get("schedule_event_id").is_none());
    app.db.finish().await;
}

async fn malformed_requests_are_400(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let id = app.create(valid()).await;
    let before = app.all().await;

    let raw = |method: Method, uri: String, content_type: Option<&str>, body: &str| {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    };
    for (method, uri) in [
        (Method::POST, "/articles".to_owned()),
        (Method::PUT, format!("/articles/{id}")),
    ] {
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            "{\"title\":",
        ))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            "[1,2]",
        ))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
        app.send(raw(method.clone(), uri.clone(), Some("text/plain"), "{}"))
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let huge = format!("{{\"title\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        app.send(raw(
            method.clone(),
            uri.clone(),
            Some("application/json"),
            &huge,
        ))
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_eq!(app.all().await, before);

    app.call(Method::GET, "/articles/not-a-uuid", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::GET, "/nowhere", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    app.call(Method::PATCH, &format!("/articles/{id}"), Some(valid()))
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    app.db.finish().await;
}

// === Pagination ===

async fn list_paginates_and_filters(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = valid();
        body["title"] = json!(format!("Article {i}"));
        if i % 2 == 0 {
            body["status"] = json!("published");
        }
        ids.push(app.create(body).await);
        app.clock.advance(Duration::from_secs(1));
    }

    let mut seen = Vec::new();
    let mut uri = "/articles?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let reply = app.call(Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
        pages += 1;
        let articles = reply.body["articles"].as_array().unwrap();
        assert!(articles.len() <= 2);
        seen.extend(
            articles
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/articles?limit=2&cursor={cursor}"),
            None => {
                assert!(reply.body["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let default = app.call(Method::GET, "/articles", None).await;
    assert_eq!(default.body["articles"].as_array().unwrap().len(), 5);
    assert!(default.body["next_cursor"].is_null());

    let published = app
        .call(Method::GET, "/articles?status=published&limit=100", None)
        .await;
    let titles: Vec<&str> = published.body["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Article 0", "Article 2", "Article 4"]);
    app.db.finish().await;
}

async fn list_parameters_are_checked(db: TestDb) {
    let app = App::new(db, "http://127.0.0.1:9").await;
    for (uri, status, field) in [
        (
            "/articles?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            "/articles?limit=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        ("/articles?limit=ten", StatusCode::BAD_REQUEST, "limit"),
        ("/articles?cursor=bm9wZQ", StatusCode::BAD_REQUEST, "cursor"),
        (
            "/articles?status=live",
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        ("/articles?sort=title", StatusCode::BAD_REQUEST, "sort"),
        (
            "/articles?limit=1&limit=2",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
    ] {
        let reply = app.call(Method::GET, uri, None).await;
        reply.assert_problem(status);
        assert_eq!(reply.fields(), [field], "{uri}");
    }
    app.db.finish().await;
}
