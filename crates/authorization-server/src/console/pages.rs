//! The console's pages (`GET`): user pools, a pool, its resource servers, its app clients,
//! token activity, and the sign-in form (one app client's page, with its forms, is in
//! `client_page.rs`). Each reads the store; none changes anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};

use super::html::{Notice, age, csrf_field, esc, seg, utc};
use super::{Visit, activity, visit};
use crate::AppState;
use crate::error::StoreError;
use crate::store::{ClientRecord, KeyUse, UserPoolRecord};

/// Rows listed per table (the console is for a handful of pools and clients).
pub(super) const LIMIT: u32 = 200;

pub(super) fn store_failed(error: &StoreError) -> Response {
    tracing::error!(%error, "console page failed in the store");
    super::refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the store failed: see the server's log",
    )
}

pub(super) fn pools_crumb() -> (String, String) {
    ("/console".to_owned(), "User pools".to_owned())
}

pub(super) fn pool_crumb(pool: &UserPoolRecord) -> (String, String) {
    (
        format!("/console/pools/{}", seg(&pool.id)),
        pool.name.clone(),
    )
}

/// The visit and the user pool of a pool's page, or the page that says why not.
async fn visit_pool(
    state: &AppState,
    headers: &HeaderMap,
    pool_id: &str,
) -> Result<(Visit, UserPoolRecord), Response> {
    let visit = visit(state, headers)?;
    let pool = load_pool(state, &visit, pool_id).await?;
    Ok((visit, pool))
}

pub(super) async fn load_pool(
    state: &AppState,
    visit: &Visit,
    pool_id: &str,
) -> Result<UserPoolRecord, Response> {
    match state.store().user_pool(pool_id).await {
        Ok(Some(pool)) => Ok(pool),
        Ok(None) => Err(visit.render(
            state,
            StatusCode::NOT_FOUND,
            "User pool not found",
            &[pools_crumb()],
            None,
            Some(Notice::Refused(format!(
                "ResourceNotFoundException: User pool {pool_id} does not exist."
            ))),
            "",
        )),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `GET /console`: the user pools.
pub(crate) async fn pools(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let visit = match visit(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let pools = match state.store().list_user_pools(None, LIMIT).await {
        Ok(p) => p,
        Err(e) => return store_failed(&e),
    };
    let mut body = String::new();
    if pools.is_empty() {
        body.push_str(
            "<p>No user pools yet. Create one with <code>s2s up</code>, <code>s2s provision</code> \
             or the admin API (<code>CreateUserPool</code>).</p>",
        );
    } else {
        body.push_str(
            "<div class=\"table-wrap\"><table><caption>User pools on this server</caption>\
             <thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Pool id</th>\
             <th scope=\"col\">Created</th></tr></thead><tbody>",
        );
        for pool in &pools {
            let _ = write!(
                body,
                "<tr><th scope=\"row\"><a href=\"/console/pools/{}\">{}</a></th>\
                 <td><code>{}</code></td><td>{}</td></tr>",
                seg(&pool.id),
                esc(&pool.name),
                esc(&pool.id),
                utc(pool.created_ms)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(
        "<p><a href=\"/console/activity\">Token activity</a>: the tokens this server issued \
         and refused lately.</p>",
    );
    visit.render(&state, StatusCode::OK, "User pools", &[], None, None, &body)
}

/// `GET /console/pools/{pool_id}`: ids, URLs, domain and signing keys.
pub(crate) async fn pool(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visit, pool) = match visit_pool(&state, &headers, &pool_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (domain, keys) = match tokio::try_join!(
        state.store().domain_of_pool(&pool.id),
        state.store().signing_keys(&pool.id)
    ) {
        Ok(found) => found,
        Err(e) => return store_failed(&e),
    };
    let public = &state.config().public_url;
    let issuer = format!("{public}/{}", pool.id);
    let mut body = String::new();
    let _ = write!(
        body,
        "<dl class=\"facts\">\
         <dt>Pool id</dt><dd><code id=\"pool-id\">{}</code></dd>\
         <dt>Issuer (<code>iss</code>)</dt><dd><code>{}</code></dd>\
         <dt>Token URL</dt><dd><code>{}/oauth2/token</code></dd>\
         <dt>JWKS URL</dt><dd><a href=\"{}/.well-known/jwks.json\"><code>{}/.well-known/jwks.json</code></a></dd>\
         <dt>Domain</dt><dd>{}</dd>\
         <dt>Created</dt><dd>{}</dd></dl>",
        esc(&pool.id),
        esc(&issuer),
        esc(public),
        esc(&issuer),
        esc(&issuer),
        match &domain {
            Some(d) => format!("<code>{}</code>", esc(&d.domain)),
            None => "none — the token endpoint refuses this pool's clients until a domain \
                     exists (<code>CreateUserPoolDomain</code>)"
                .to_owned(),
        },
        utc(pool.created_ms),
    );
    // Keys come newest first: the first access-token key is the one that signs.
    let signing = keys
        .iter()
        .find(|k| k.token_use == KeyUse::Access)
        .map(|k| k.kid.clone());
    let now = state.now_ms();
    body.push_str(
        "<h2 id=\"keys\">Signing keys</h2><div class=\"table-wrap\"><table id=\"keys-table\">\
         <caption>Every key is published in the JWKS, newest first</caption><thead><tr>\
         <th scope=\"col\">kid</th><th scope=\"col\">Role</th><th scope=\"col\">Age</th>\
         <th scope=\"col\">Created</th></tr></thead><tbody>",
    );
    for key in &keys {
        let (role, class) = match key.token_use {
            KeyUse::Access if signing.as_deref() == Some(key.kid.as_str()) => {
                ("signs new access tokens", " class=\"signing\"")
            }
            KeyUse::Access => ("retired: verifies the tokens it signed", ""),
            KeyUse::Id => ("ID tokens (never issued here)", ""),
        };
        let _ = write!(
            body,
            "<tr{class}><td><code class=\"kid\">{}</code></td><td>{role}</td><td>{}</td><td>{}</td></tr>",
            esc(&key.kid),
            age(now, key.created_ms),
            utc(key.created_ms)
        );
    }
    let _ = write!(
        body,
        "</tbody></table></div>\
         <form method=\"post\" action=\"/console/pools/{}/keys/rotate\">{}\
         <p>Rotating adds a new RSA-2048 key that signs every token from now on; the older \
         keys stay in the JWKS, so tokens they signed still verify.</p>\
         <button type=\"submit\" id=\"rotate-key\">Rotate signing key</button></form>",
        seg(&pool.id),
        csrf_field(&visit.session.csrf)
    );
    visit.render(
        &state,
        StatusCode::OK,
        &pool.name,
        &[pools_crumb()],
        Some((&pool.id, "")),
        None,
        &body,
    )
}

/// Which clients of the pool hold each scope.
fn holders(clients: &[ClientRecord]) -> BTreeMap<String, Vec<&ClientRecord>> {
    let mut map: BTreeMap<String, Vec<&ClientRecord>> = BTreeMap::new();
    for client in clients {
        for scope in client.settings.allowed_oauth_scopes.iter().flatten() {
            map.entry(scope.clone()).or_default().push(client);
        }
    }
    map
}

/// `GET /console/pools/{pool_id}/resource-servers`: resource servers, scopes, holders.
pub(crate) async fn resource_servers(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visit, pool) = match visit_pool(&state, &headers, &pool_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (servers, clients) = match tokio::try_join!(
        state.store().list_resource_servers(&pool.id, None, LIMIT),
        state.store().list_clients(&pool.id, None, LIMIT)
    ) {
        Ok(found) => found,
        Err(e) => return store_failed(&e),
    };
    let holders = holders(&clients);
    let mut body = String::new();
    if servers.is_empty() {
        body.push_str(
            "<p>No resource servers: create one with <code>CreateResourceServer</code>.</p>",
        );
    }
    for server in &servers {
        let _ = write!(
            body,
            "<section><h2>{}</h2><p>Identifier <code>{}</code></p><div class=\"table-wrap\"><table>\
             <caption>Scopes of {}</caption><thead><tr><th scope=\"col\">Scope</th>\
             <th scope=\"col\">Description</th><th scope=\"col\">Granted to</th></tr></thead><tbody>",
            esc(&server.name),
            esc(&server.identifier),
            esc(&server.name)
        );
        for scope in &server.scopes {
            let full = format!("{}/{}", server.identifier, scope.scope_name);
            let granted = holders.get(&full).map_or_else(
                || "no client".to_owned(),
                |clients| {
                    clients
                        .iter()
                        .map(|c| {
                            format!(
                                "<a href=\"/console/pools/{}/clients/{}\">{}</a>",
                                seg(&pool.id),
                                seg(&c.client_id),
                                esc(&c.name)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            );
            let _ = write!(
                body,
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{granted}</td></tr>",
                esc(&full),
                esc(&scope.scope_description)
            );
        }
        body.push_str("</tbody></table></div></section>");
    }
    visit.render(
        &state,
        StatusCode::OK,
        &format!("Resource servers of {}", pool.name),
        &[pools_crumb(), pool_crumb(&pool)],
        Some((&pool.id, "/resource-servers")),
        None,
        &body,
    )
}

pub(super) fn flows(client: &ClientRecord) -> String {
    let flows = client
        .settings
        .allowed_oauth_flows
        .as_deref()
        .unwrap_or_default();
    if !client.settings.allowed_oauth_flows_user_pool_client || flows.is_empty() {
        "none".to_owned()
    } else {
        flows.join(", ")
    }
}

pub(super) fn validity(client: &ClientRecord) -> String {
    let settings = &client.settings;
    match settings.access_token_validity {
        Some(value) => format!(
            "{value} {}",
            settings.token_validity_units.access_token_or_default()
        ),
        None => "1 hours (default)".to_owned(),
    }
}

/// `GET /console/pools/{pool_id}/clients`: the app clients.
pub(crate) async fn clients(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visit, pool) = match visit_pool(&state, &headers, &pool_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let clients = match state.store().list_clients(&pool.id, None, LIMIT).await {
        Ok(c) => c,
        Err(e) => return store_failed(&e),
    };
    let mut body = String::new();
    if clients.is_empty() {
        body.push_str("<p>No app clients: create one with <code>CreateUserPoolClient</code>.</p>");
    } else {
        body.push_str(
            "<div class=\"table-wrap\"><table><caption>App clients</caption><thead><tr>\
             <th scope=\"col\">Name</th><th scope=\"col\">Client id</th>\
             <th scope=\"col\">OAuth flows</th><th scope=\"col\">Granted scopes</th>\
             <th scope=\"col\">Access token validity</th></tr></thead><tbody>",
        );
        for client in &clients {
            let scopes = client
                .settings
                .allowed_oauth_scopes
                .iter()
                .flatten()
                .map(|s| format!("<code>{}</code>", esc(s)))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = write!(
                body,
                "<tr><th scope=\"row\"><a href=\"/console/pools/{}/clients/{}\">{}</a></th>\
                 <td><code>{}</code></td><td>{}</td><td>{scopes}</td><td>{}</td></tr>",
                seg(&pool.id),
                seg(&client.client_id),
                esc(&client.name),
                esc(&client.client_id),
                esc(&flows(client)),
                esc(&validity(client))
            );
        }
        body.push_str("</tbody></table></div>");
    }
    visit.render(
        &state,
        StatusCode::OK,
        &format!("App clients of {}", pool.name),
        &[pools_crumb(), pool_crumb(&pool)],
        Some((&pool.id, "/clients")),
        None,
        &body,
    )
}

/// `GET /console/activity`: the token endpoint's recent outcomes and tokens per minute.
pub(crate) async fn activity(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let visit = match visit(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let console = state.console();
    let now = state.now_ms();
    let events = console.activity.recent();
    // Names of the clients seen, for the table (ids alone mean little to a person).
    let mut names: BTreeMap<String, Option<ClientRecord>> = BTreeMap::new();
    for id in events.iter().filter_map(|e| e.client_id.as_deref()) {
        if !names.contains_key(id) {
            let found = state.store().client(id).await.ok().flatten();
            names.insert(id.to_owned(), found);
        }
    }
    let mut body = activity::chart(&console.activity.per_minute(now));
    let _ = write!(
        body,
        "<div class=\"table-wrap\"><table id=\"events\"><caption>The last {} token requests, \
         newest first (kept in memory)</caption><thead><tr><th scope=\"col\">When</th>\
         <th scope=\"col\">Client</th><th scope=\"col\">Outcome</th><th scope=\"col\">Scopes or \
         reason</th></tr></thead><tbody>",
        activity::CAPACITY
    );
    if events.is_empty() {
        body.push_str("<tr><td colspan=\"4\">No token requests yet.</td></tr>");
    }
    for event in &events {
        let client = match event.client_id.as_deref() {
            Some(id) => match names.get(id).and_then(Option::as_ref) {
                Some(c) => format!(
                    "<a href=\"/console/pools/{}/clients/{}\">{}</a>",
                    seg(&c.pool_id),
                    seg(&c.client_id),
                    esc(&c.name)
                ),
                None => format!("<code>{}</code> (unknown)", esc(id)),
            },
            None => "—".to_owned(),
        };
        let (class, outcome, detail) = match &event.outcome {
            activity::Outcome::Issued { scopes } => (
                "issued",
                "issued".to_owned(),
                format!("<code>{}</code>", esc(scopes)),
            ),
            activity::Outcome::Refused { error, description } => (
                "refused",
                format!("refused: <code>{}</code>", esc(error)),
                esc(description).to_string(),
            ),
        };
        let _ = write!(
            body,
            "<tr class=\"{class}\"><td>{} <span class=\"ago\">({} ago)</span></td><td>{client}</td>\
             <td>{outcome}</td><td>{detail}</td></tr>",
            utc(event.at_ms),
            age(now, event.at_ms)
        );
    }
    body.push_str("</tbody></table></div>");
    visit.render(
        &state,
        StatusCode::OK,
        "Token activity",
        &[pools_crumb()],
        None,
        None,
        &body,
    )
}

/// `GET /console/login`: the sign-in form (only with admin credentials configured).
pub(crate) async fn sign_in(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.config().admin_credentials.is_none() {
        return super::see_other("/console");
    }
    let sessions = &state.console().sessions;
    let (session, new) = match sessions.current(&state, &headers) {
        Some(s) if s.signed_in => return super::see_other("/console"),
        Some(s) => (s, false),
        None => match sessions.create(&state, false) {
            Some(s) => (s, true),
            None => {
                return super::refused(StatusCode::INTERNAL_SERVER_ERROR, "no random numbers");
            }
        },
    };
    sign_in_page(&state, session, new, StatusCode::OK, None)
}

/// The sign-in form for `session` (its cookie set when `new`), with an error when a
/// sign-in was refused.
pub(crate) fn sign_in_page(
    state: &AppState,
    session: super::Session,
    new: bool,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    let body = format!(
        "<form method=\"post\" action=\"/console/login\" class=\"signin\">{}\
         <p>Sign in with the admin API's access key (the server's admin credentials).</p>\
         <div class=\"field\"><label for=\"access-key-id\">Access key id</label>\
         <input id=\"access-key-id\" name=\"access_key_id\" autocomplete=\"username\" required></div>\
         <div class=\"field\"><label for=\"secret-access-key\">Secret access key</label>\
         <input id=\"secret-access-key\" name=\"secret_access_key\" type=\"password\" \
         autocomplete=\"current-password\" required></div>\
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form>",
        csrf_field(&session.csrf)
    );
    let visit = Visit {
        set_cookie: new.then(|| super::session::set_cookie(state, &session)),
        session,
    };
    let page = super::html::page(
        &super::html::Layout {
            title: "Sign in",
            crumbs: &[],
            pool_nav: None,
            sign_out_csrf: None,
            notice,
        },
        &body,
    );
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    visit.attach_cookie(&mut response);
    response
}
