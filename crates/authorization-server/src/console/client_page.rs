//! One app client's page (`GET`, and rendered again by the actions after a change): its
//! settings, and the forms that change its scopes, token lifetimes and secrets.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{Notice, csrf_field, esc, seg, utc};
use super::pages::{LIMIT, flows, load_pool, pool_crumb, pools_crumb, store_failed, validity};
use super::{Visit, visit};
use crate::AppState;
use crate::store::{ClientRecord, ResourceServerRecord};

/// `GET /console/pools/{pool_id}/clients/{client_id}`.
pub(crate) async fn client(
    State(state): State<AppState>,
    Path((pool_id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let visit = match visit(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    client_page(
        &state,
        &visit,
        &pool_id,
        &client_id,
        StatusCode::OK,
        None,
        None,
    )
    .await
}

/// One app client's page, also rendered by the actions: with the refusal of a change
/// (`notice`), or with a secret just created (`new_secret`, shown this once).
pub(crate) async fn client_page(
    state: &AppState,
    visit: &Visit,
    pool_id: &str,
    client_id: &str,
    status: StatusCode,
    notice: Option<Notice>,
    new_secret: Option<(&str, &str)>,
) -> Response {
    let pool = match load_pool(state, visit, pool_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (client, servers, secrets) = match tokio::try_join!(
        state.store().client(client_id),
        state.store().list_resource_servers(&pool.id, None, LIMIT),
        state.store().client_secrets(&pool.id, client_id)
    ) {
        Ok(found) => found,
        Err(e) => return store_failed(&e),
    };
    let Some(client) = client.filter(|c| c.pool_id == pool.id) else {
        return visit.render(
            state,
            StatusCode::NOT_FOUND,
            "App client not found",
            &[pools_crumb(), pool_crumb(&pool)],
            Some((&pool.id, "/clients")),
            Some(Notice::Refused(format!(
                "ResourceNotFoundException: User pool client {client_id} does not exist."
            ))),
            "",
        );
    };
    let base = format!(
        "/console/pools/{}/clients/{}",
        seg(&pool.id),
        seg(&client.client_id)
    );
    let csrf = csrf_field(&visit.session.csrf);
    let mut body = String::new();
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Client id</dt><dd><code id=\"client-id\">{}</code></dd>\
         <dt>OAuth flows</dt><dd>{}</dd><dt>Access token validity</dt><dd id=\"validity\">{}</dd>\
         <dt>Last modified</dt><dd>{}</dd></dl>",
        esc(&client.client_id),
        esc(&flows(&client)),
        esc(&validity(&client)),
        utc(client.modified_ms)
    );
    body.push_str(&scopes_form(&base, &csrf, &client, &servers));
    body.push_str(&validity_form(&base, &csrf, &client));
    body.push_str(&secrets_section(
        &base, &csrf, &client, &secrets, new_secret,
    ));
    visit.render(
        state,
        status,
        &client.name,
        &[
            pools_crumb(),
            pool_crumb(&pool),
            (
                format!("/console/pools/{}/clients", seg(&pool.id)),
                "App clients".to_owned(),
            ),
        ],
        Some((&pool.id, "/clients")),
        notice,
        &body,
    )
}

/// Checkboxes of every scope of the pool (plus any other scope the client holds, so that
/// saving keeps it): checked ones are granted.
fn scopes_form(
    base: &str,
    csrf: &str,
    client: &ClientRecord,
    servers: &[ResourceServerRecord],
) -> String {
    let granted: BTreeSet<&str> = client
        .settings
        .allowed_oauth_scopes
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut described: Vec<(String, String)> = servers
        .iter()
        .flat_map(|server| {
            server.scopes.iter().map(move |scope| {
                (
                    format!("{}/{}", server.identifier, scope.scope_name),
                    scope.scope_description.clone(),
                )
            })
        })
        .collect();
    for scope in &granted {
        if !described.iter().any(|(s, _)| s == scope) {
            described.push(((*scope).to_owned(), String::new()));
        }
    }
    let mut out = format!(
        "<section aria-labelledby=\"scopes-heading\"><h2 id=\"scopes-heading\">Granted scopes</h2>\
         <form method=\"post\" action=\"{base}/scopes\" class=\"scopes\" data-autosubmit>{csrf}\
         <fieldset><legend>Scopes this client may request (<code>AllowedOAuthScopes</code>)</legend>"
    );
    if described.is_empty() {
        out.push_str("<p>The pool defines no scopes.</p>");
    }
    for (index, (scope, description)) in described.iter().enumerate() {
        let checked = if granted.contains(scope.as_str()) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<div class=\"check\"><input type=\"checkbox\" name=\"scope\" id=\"scope-{index}\" \
             value=\"{}\"{checked}><label for=\"scope-{index}\"><code>{}</code>{}</label></div>",
            esc(scope),
            esc(scope),
            if description.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(description))
            }
        );
    }
    out.push_str(
        "</fieldset><button type=\"submit\" id=\"save-scopes\">Save scopes</button></form></section>",
    );
    out
}

fn validity_form(base: &str, csrf: &str, client: &ClientRecord) -> String {
    let settings = &client.settings;
    let unit = settings.token_validity_units.access_token_or_default();
    let value = settings.access_token_validity.unwrap_or(1);
    let mut options = String::new();
    for name in ["minutes", "hours", "days"] {
        let selected = if unit.as_str() == name {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            "<option value=\"{name}\"{selected}>{name}</option>"
        );
    }
    format!(
        "<section aria-labelledby=\"validity-heading\"><h2 id=\"validity-heading\">Access token validity</h2>\
         <form method=\"post\" action=\"{base}/validity\">{csrf}\
         <p class=\"hint\" id=\"validity-hint\">Cognito allows 5 minutes to 1 day.</p>\
         <div class=\"field\"><label for=\"access-token-validity\">Access token validity</label>\
         <input type=\"text\" inputmode=\"numeric\" id=\"access-token-validity\" \
         name=\"access_token_validity\" value=\"{value}\" aria-describedby=\"validity-hint\" size=\"8\"></div>\
         <div class=\"field\"><label for=\"validity-unit\">Unit</label>\
         <select id=\"validity-unit\" name=\"unit\">{options}</select></div>\
         <button type=\"submit\" id=\"save-validity\">Save validity</button></form></section>"
    )
}

fn secrets_section(
    base: &str,
    csrf: &str,
    client: &ClientRecord,
    secrets: &[crate::store::ClientSecretRecord],
    new_secret: Option<(&str, &str)>,
) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"secrets-heading\"><h2 id=\"secrets-heading\">Client secrets</h2>",
    );
    if let Some((id, value)) = new_secret {
        let _ = write!(
            out,
            "<div class=\"secret-once\" role=\"status\"><p>New secret <code>{}</code>. Copy its \
             value now: it is shown this once and never again.</p>\
             <p><label for=\"new-secret\">Secret value</label> \
             <input id=\"new-secret\" type=\"text\" readonly value=\"{}\" size=\"56\"></p></div>",
            esc(id),
            esc(value)
        );
    }
    if client.secret.is_none() {
        out.push_str("<p>This is a public client: it has no secret.</p></section>");
        return out;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table><caption>Active secrets (values are never shown)</caption>\
         <thead><tr><th scope=\"col\">Secret id</th><th scope=\"col\">Created</th>\
         <th scope=\"col\">Action</th></tr></thead><tbody>",
    );
    for secret in secrets {
        let _ = write!(
            out,
            "<tr><td><code>{id}</code></td><td>{}</td><td><form method=\"post\" \
             action=\"{base}/secrets/delete\">{csrf}<input type=\"hidden\" name=\"secret_id\" \
             value=\"{id}\"><button type=\"submit\" aria-label=\"Delete secret {id}\">Delete</button>\
             </form></td></tr>",
            utc(secret.created_ms),
            id = esc(&secret.secret_id),
        );
    }
    let _ = write!(
        out,
        "</tbody></table></div><form method=\"post\" action=\"{base}/secrets\">{csrf}\
         <p>A client holds at most two secrets: add the new one, move every caller to it, \
         then delete the old one.</p><button type=\"submit\" id=\"add-secret\">Add a generated \
         secret</button></form></section>"
    );
    out
}
