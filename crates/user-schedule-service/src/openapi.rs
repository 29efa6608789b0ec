//! The OpenAPI document, generated from the handlers' annotations.

use axum::body::Bytes;
use axum::http::Method;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{API, ops, schedule};

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
        ops::Health,
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

/// The document, serialised, with each API route's scope (from [`API`], the table the
/// router is built from) spelled for this deployment's resource server.
pub(crate) fn document(resource_server: &str) -> Bytes {
    let mut doc = ApiDoc::openapi();
    for route in API {
        if let Some(operation) = doc
            .paths
            .paths
            .get_mut(route.path)
            .and_then(|item| operation(item, &route.method))
        {
            operation.security = Some(vec![SecurityRequirement::new(
                "bearer",
                [route.access.scope(resource_server)],
            )]);
        }
    }
    serde_json::to_vec(&doc)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// The operation of `item` for `method`.
fn operation<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        _ => None,
    }
}
