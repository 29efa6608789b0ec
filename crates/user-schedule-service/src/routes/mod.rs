//! The HTTP routes, one module per resource, and the table of API routes and the scope
//! each needs: the router and the OpenAPI document are both built from [`API`], so a
//! scope is written once.

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::AppState;

pub(crate) mod ops;
pub(crate) mod schedule;

/// What a route needs of the caller's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `<resource-server>/schedule.read`.
    Read,
    /// `<resource-server>/schedule.update`.
    Update,
}

impl Access {
    /// The scope, spelled for `resource_server`.
    pub(crate) fn scope(self, resource_server: &str) -> String {
        match self {
            Self::Read => format!("{resource_server}/schedule.read"),
            Self::Update => format!("{resource_server}/schedule.update"),
        }
    }
}

/// One API route: a method on a path template, the scope it needs and its handler.
pub(crate) struct ApiRoute {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) access: Access,
    pub(crate) handler: fn() -> MethodRouter<AppState>,
}

/// Every API route. Reads and writes share paths but not scopes.
pub(crate) const API: &[ApiRoute] = &[
    ApiRoute {
        method: Method::GET,
        path: "/users/{user_id}/schedule",
        access: Access::Read,
        handler: || get(schedule::list_schedule),
    },
    ApiRoute {
        method: Method::POST,
        path: "/users/{user_id}/schedule/events",
        access: Access::Update,
        handler: || post(schedule::create_event),
    },
    ApiRoute {
        method: Method::GET,
        path: "/users/{user_id}/schedule/events/{event_id}",
        access: Access::Read,
        handler: || get(schedule::get_event),
    },
    ApiRoute {
        method: Method::PUT,
        path: "/users/{user_id}/schedule/events/{event_id}",
        access: Access::Update,
        handler: || put(schedule::replace_event),
    },
    ApiRoute {
        method: Method::DELETE,
        path: "/users/{user_id}/schedule/events/{event_id}",
        access: Access::Update,
        handler: || delete(schedule::delete_event),
    },
];
