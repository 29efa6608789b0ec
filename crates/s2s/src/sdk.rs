//! The AWS SDK client for Cognito's admin API: against AWS (the standard credential chain)
//! or against the local server, and the message of an SDK error.

use std::fmt;

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider as cognito;
use cognito::error::{ProvideErrorMetadata, SdkError};

use crate::provision::Target;

/// An SDK client for the target: the local server (any credentials in the environment,
/// otherwise placeholder ones, since a local server without admin credentials accepts any
/// signature) or AWS (the standard credential chain and region).
pub(crate) async fn sdk_client(
    endpoint: Option<&str>,
    region: Option<&str>,
) -> anyhow::Result<(cognito::Client, Target)> {
    use cognito::config::{BehaviorVersion, Credentials, Region};
    if let Some(endpoint) = endpoint {
        let region = region.unwrap_or("us-east-1").to_owned();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment")
            }
            _ => Credentials::new("s2s-local", "s2s-local", None, None, "s2s-local"),
        };
        return Ok((
            local_sdk_client(endpoint, region, credentials),
            Target::Local {
                endpoint: endpoint.to_owned(),
            },
        ));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    let region = config.region().map(ToString::to_string).context(
        "no AWS region: pass --region, set AWS_REGION, or give --endpoint-url for the local server",
    )?;
    Ok((cognito::Client::new(&config), Target::Aws { region }))
}

/// An SDK client for the local server at `endpoint`, signing with `credentials`.
pub(crate) fn local_sdk_client(
    endpoint: &str,
    region: String,
    credentials: cognito::config::Credentials,
) -> cognito::Client {
    use cognito::config::{BehaviorVersion, Region};
    let config = cognito::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .build();
    cognito::Client::from_conf(config)
}

/// The message of an SDK error: the Cognito exception and its message when the service
/// answered, the transport error chain otherwise.
pub(crate) fn sdk_error<E, R>(err: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    if let Some(service) = err.as_service_error() {
        let code = service.code().unwrap_or("unknown error");
        return match service.message() {
            Some(message) => anyhow::anyhow!("{code}: {message}"),
            None => anyhow::anyhow!("{code}"),
        };
    }
    anyhow::Error::new(err)
}
