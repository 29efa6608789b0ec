//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{ops, schedule};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "user-schedule-service",
        description = "Users' schedules behind Cognito scope checks. Reads need \
            `<resource-server>/schedule.read`, writes `<resource-server>/schedule.update` \
            (default resource server `user-schedule-service`). Errors are RFC 9457 \
            problem documents; refusals follow RFC 6750."
    ),
    paths(
        schedule::list_schedule,
        schedule::create_event,
        schedule::get_event,
        schedule::replace_event,
        schedule::delete_event,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi_json,
    ),
    components(schemas(
        schedule::EventBody,
        schedule::EventInput,
        schedule::SchedulePage,
        ops::Status,
        Problem,
        ProblemField
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "schedule", description = "Users' events"),
        (name = "operations", description = "Health, readiness, metrics, this document")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Cognito access token from the client-credentials grant",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, with the scopes spelled for this deployment's resource server.
pub(crate) fn document(resource_server: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if resource_server != crate::DEFAULT_RESOURCE_SERVER {
        rename_scopes(&mut value, resource_server);
    }
    value
}

/// Rewrites `user-schedule-service/schedule.*` in security requirements.
fn rename_scopes(value: &mut serde_json::Value, resource_server: &str) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(crate::DEFAULT_RESOURCE_SERVER)
                && rest.starts_with("/schedule.")
            {
                *s = format!("{resource_server}{rest}");
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rename_scopes(v, resource_server)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| rename_scopes(v, resource_server)),
        _ => {}
    }
}
