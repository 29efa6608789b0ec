//! A fake user-schedule-service on a loopback port: refusals, failures and hangs on
//! demand.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Normal,
    Refuse403,
    Refuse401,
    Fail500,
    Hang,
    /// Stores the event, then never answers (a lost answer).
    CreateThenHang,
}

#[derive(Debug)]
pub(super) struct Upstream {
    mode: Mutex<Mode>,
    /// Events by user id.
    pub(super) events: Mutex<Vec<(String, Value)>>,
    /// The query strings of the list calls.
    pub(super) queries: Mutex<Vec<std::collections::HashMap<String, String>>>,
    creates: AtomicUsize,
    /// How long a create takes, so concurrent bookings overlap.
    create_delay: Duration,
}

pub(super) struct FakeUpstream {
    pub(super) url: String,
    pub(super) state: Arc<Upstream>,
}

impl FakeUpstream {
    pub(super) async fn spawn() -> Self {
        let state = Arc::new(Upstream {
            mode: Mutex::new(Mode::Normal),
            events: Mutex::new(Vec::new()),
            queries: Mutex::new(Vec::new()),
            creates: AtomicUsize::new(0),
            create_delay: Duration::from_millis(50),
        });
        let app = Router::new()
            .route("/users/{user}/schedule", get(list))
            .route("/users/{user}/schedule/events", post(create))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    pub(super) fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub(super) fn event_count(&self) -> usize {
        self.state.events.lock().unwrap().len()
    }
}

async fn refusal(mode: Mode) -> Option<axum::response::Response> {
    match mode {
        Mode::Normal => None,
        Mode::Refuse403 => Some(
            (
                StatusCode::FORBIDDEN,
                [(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer error="insufficient_scope", scope="user-schedule-service/schedule.update""#,
                )],
            )
                .into_response(),
        ),
        Mode::Refuse401 => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
            )
                .into_response(),
        ),
        Mode::Fail500 => Some(
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"detail": "disk full"}))).into_response(),
        ),
        Mode::Hang => std::future::pending().await,
        Mode::CreateThenHang => None,
    }
}

async fn list(
    State(state): State<Arc<Upstream>>,
    Path(user): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let mode = *state.mode.lock().unwrap();
    if let Some(refused) = refusal(mode).await {
        return refused;
    }
    state.queries.lock().unwrap().push(query);
    let events: Vec<Value> = state
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(u, _)| *u == user)
        .map(|(_, e)| e.clone())
        .collect();
    // A user with no events has an empty schedule, as in user-schedule-service. Two
    // pages otherwise, to exercise the cursor.
    let cursor = state
        .queries
        .lock()
        .unwrap()
        .last()
        .and_then(|q| q.get("cursor").cloned());
    let (page, next) = match cursor {
        None if events.len() > 1 => (events[..1].to_vec(), json!("page-2")),
        None => (events, Value::Null),
        Some(_) => (events[1..].to_vec(), Value::Null),
    };
    Json(json!({"events": page, "next_cursor": next})).into_response()
}

async fn create(
    State(state): State<Arc<Upstream>>,
    Path(user): Path<String>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let mode = *state.mode.lock().unwrap();
    if let Some(refused) = refusal(mode).await {
        return refused;
    }
    // Not synchronisation: widens the window in which concurrent bookings overlap, so the
    // store's claim (not luck) is what keeps them to one event.
    tokio::time::sleep(state.create_delay).await;
    let n = state.creates.fetch_add(1, Ordering::SeqCst);
    let event = json!({
        "id": format!("ev-{n}"),
        "title": body["title"],
        "starts_at": body["starts_at"],
        "ends_at": body["ends_at"],
        "created_by": "articles-client",
        "created_at": "2026-04-01T00:00:00Z",
        "updated_at": "2026-04-01T00:00:00Z",
    });
    state.events.lock().unwrap().push((user, event.clone()));
    if mode == Mode::CreateThenHang {
        std::future::pending::<()>().await;
    }
    (StatusCode::CREATED, Json(event)).into_response()
}
