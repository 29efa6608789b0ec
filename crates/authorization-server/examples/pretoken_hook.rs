//! A pre token generation function (`V3_0`) served over HTTP, for the local authorization
//! server's `--lambda ARN=URL`: it adds a `tenant` and an `environment` claim to every
//! client-credentials access token.
//!
//! ```sh
//! cargo run -p authorization-server --example pretoken_hook -- 127.0.0.1:9300
//! s2s serve authorization-server … \
//!   --lambda arn:aws:lambda:us-east-1:000000000000:function:pretoken=http://127.0.0.1:9300/
//! ```
//!
//! It answers on `/` and on the Lambda Runtime Interface Emulator's path
//! (`/2015-03-31/functions/function/invocations`), and answers as a Lambda function does:
//! the event it received, with `response` filled in. The claims come from the request's
//! `clientMetadata` (`aws_client_metadata` at the token endpoint, `ClientMetadata` of
//! `GetClientToken`) when it names them, else from defaults.

use axum::Json;
use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

/// The hook's routes.
pub fn router() -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/2015-03-31/functions/function/invocations", post(handle))
}

/// One invocation: the event back, with the claims to add.
async fn handle(Json(mut event): Json<Value>) -> Json<Value> {
    if event["triggerSource"] == "TokenGeneration_ClientCredentials" {
        let metadata = &event["request"]["clientMetadata"];
        let tenant = metadata["tenant"].as_str().unwrap_or("acme").to_owned();
        let environment = metadata["environment"]
            .as_str()
            .unwrap_or("local")
            .to_owned();
        // Every member of the V2/V3 response, as the AWS Lambda event types serialise it,
        // so a Rust Lambda built on `aws_lambda_events` answers the same thing.
        event["response"] = json!({
            "claimsAndScopeOverrideDetails": {
                "idTokenGeneration": null,
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"tenant": tenant, "environment": environment},
                    "claimsToSuppress": [],
                    "scopesToAdd": [],
                    "scopesToSuppress": [],
                },
                "groupOverrideDetails": {
                    "groupsToOverride": [],
                    "iamRolesToOverride": [],
                    "preferredRole": null,
                },
            },
        });
    }
    Json(event)
}

#[allow(dead_code)] // The tests include this file for `router` only.
#[allow(clippy::print_stdout)] // An example program: it says where it listens.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9300".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "pre token generation hook on http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, router()).await
}
