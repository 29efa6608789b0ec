//! The command line. Every flag can also be set with the `S2S_…` environment variable
//! named in `--help`; secrets are read from files or the environment so they stay out of
//! `ps`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::limits::ConnectionLimits;

/// Secure service-to-service calls with the OAuth 2.0 client-credentials grant on
/// Amazon Cognito, or on the local Cognito-compatible authorization server.
#[derive(Debug, Parser)]
#[command(name = "s2s", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Log format: human-readable lines or one JSON object per line, on stderr. The level
    /// comes from RUST_LOG (default `info` for up and serve, `warn` for the other commands).
    #[arg(long, global = true, env = "S2S_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Everything locally: the authorization server, provisioned with the stack, and both
    /// services wired with its outputs, on loopback, until Ctrl-C.
    Up(UpArgs),
    /// Run one server: the authorization server or one of the two services.
    #[command(subcommand)]
    Serve(ServeRole),
    /// Apply a stack file to Amazon Cognito (standard AWS credentials and region) or, with
    /// --endpoint-url, to the local authorization server. Safe to run again.
    Provision(ProvisionArgs),
    /// Ask the token endpoint for an access token (client-credentials grant) and print
    /// the answer.
    Token(TokenArgs),
    /// Decode an access token, show its claims in human form and verify it against its
    /// issuer's keys.
    Inspect(InspectArgs),
    /// List or rotate a user pool's signing keys in the local authorization server's
    /// database (Cognito has no such API: its keys are managed by AWS).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The stack to provision. [default: ./stack.toml, or the reference stack built into
    /// the binary when there is none]
    #[arg(long, env = "S2S_STACK")]
    pub(crate) stack: Option<PathBuf>,

    /// Directory for the three SQLite databases, outputs.json and client-secret. Reusing
    /// it reuses the pool, the client id, the secret and the signing keys.
    #[arg(long, env = "S2S_DATA_DIR", default_value = ".s2s")]
    pub(crate) data_dir: PathBuf,

    /// Port of the authorization server on 127.0.0.1 (0: any free port).
    #[arg(long, env = "S2S_AUTH_PORT", default_value_t = 9229)]
    pub(crate) auth_port: u16,

    /// Port of articles-service on 127.0.0.1 (0: any free port).
    #[arg(long, env = "S2S_ARTICLES_PORT", default_value_t = 8081)]
    pub(crate) articles_port: u16,

    /// Port of user-schedule-service on 127.0.0.1 (0: any free port).
    #[arg(long, env = "S2S_SCHEDULES_PORT", default_value_t = 8082)]
    pub(crate) schedules_port: u16,

    /// Region of the local authorization server (the prefix of user pool ids).
    #[arg(long, env = "S2S_REGION", default_value = "us-east-1")]
    pub(crate) region: String,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,
}

#[derive(Debug, Args)]
pub(crate) struct ProvisionArgs {
    /// The stack file.
    #[arg(long, env = "S2S_STACK", default_value = "stack.toml")]
    pub(crate) stack: PathBuf,

    /// Admin API of the local authorization server, e.g. http://127.0.0.1:9229. Without it
    /// the stack goes to Amazon Cognito.
    #[arg(long, env = "S2S_ENDPOINT_URL")]
    pub(crate) endpoint_url: Option<url::Url>,

    /// AWS region. [default: from the AWS configuration (AWS_REGION, ~/.aws/config);
    /// us-east-1 with --endpoint-url]
    #[arg(long, env = "S2S_REGION")]
    pub(crate) region: Option<String>,

    /// Where to write the outputs (pool id, client id, issuer, token and JWKS URLs) as JSON.
    #[arg(long, env = "S2S_OUT", default_value = ".s2s/outputs.json")]
    pub(crate) out: PathBuf,

    /// Where to write the client secret (mode 0600). [default: client-secret next to --out]
    #[arg(long, env = "S2S_SECRET_OUT")]
    pub(crate) secret_out: Option<PathBuf>,

    /// Also print the client secret.
    #[arg(long)]
    pub(crate) show_secret: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub(crate) client: ClientCredentialsArgs,

    /// Print the token's decoded header and claims instead of the JSON answer.
    #[arg(long)]
    pub(crate) decode: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The access token, or `-` to read it from standard input.
    pub(crate) token: String,

    /// The issuer the token must come from, e.g.
    /// https://cognito-idp.<region>.amazonaws.com/<userPoolId>. Without it the token's own
    /// `iss` is used, which proves nothing about who issued it.
    #[arg(long, env = "S2S_ISSUER")]
    pub(crate) issuer: Option<url::Url>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// A pool's keys, newest first: kid, the tokens each is for, when it was made, and
    /// which one signs. The JWKS publishes all of them.
    List(KeysArgs),
    /// Add a new access-token key to a pool. It signs new tokens from now on (a running
    /// server picks it up within a second); older keys stay in the JWKS, so tokens they
    /// signed still verify. Use it to check that verifiers follow a key rotation.
    Rotate(KeysArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// The user pool, e.g. us-east-1_AbCdEfGhI (see .s2s/outputs.json).
    #[arg(long, env = "S2S_USER_POOL_ID")]
    pub(crate) pool_id: String,

    /// The authorization server's database: sqlite://PATH or postgres://…
    /// [default: sqlite://<data-dir>/authorization-server.db]
    #[arg(long, env = "S2S_DATABASE", hide_env_values = true)]
    pub(crate) database: Option<String>,

    /// The data directory of `s2s up` or `s2s serve authorization-server`.
    #[arg(long, env = "S2S_DATA_DIR", default_value = ".s2s")]
    pub(crate) data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeRole {
    /// The local Cognito-compatible authorization server: admin API (AWS JSON 1.1),
    /// token endpoint, JWKS and discovery, on one host.
    AuthorizationServer(AuthorizationServerArgs),
    /// The resource server: users' schedules behind scope checks.
    UserScheduleService(UserScheduleServiceArgs),
    /// The client service: the articles API, calling user-schedule-service with its own
    /// access token.
    ArticlesService(ArticlesServiceArgs),
}

/// Where a server keeps its data when `--database` is not given.
#[derive(Debug, Args)]
pub(crate) struct DataDir {
    /// Directory for the default SQLite databases (created if missing).
    #[arg(long, env = "S2S_DATA_DIR", default_value = ".s2s")]
    pub(crate) data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct AuthorizationServerArgs {
    /// Address to listen on. Port 0 picks a free port (logged at start).
    #[arg(long, env = "S2S_LISTEN", default_value = "127.0.0.1:9229")]
    pub(crate) listen: SocketAddr,

    /// Database URL: sqlite://PATH, sqlite::memory: or postgres://…
    /// [default: sqlite://<data-dir>/authorization-server.db]
    #[arg(long, env = "S2S_DATABASE", hide_env_values = true)]
    pub(crate) database: Option<String>,

    #[command(flatten)]
    pub(crate) data_dir: DataDir,

    /// URL clients use to reach this server; issuers are <public-url>/<userPoolId>.
    /// [default: http://<listen address>]
    #[arg(long, env = "S2S_PUBLIC_URL")]
    pub(crate) public_url: Option<url::Url>,

    /// Region used in user pool ids and ARNs.
    #[arg(long, env = "S2S_REGION", default_value = "us-east-1")]
    pub(crate) region: String,

    /// Access key id the admin API accepts (SigV4). Without admin credentials any
    /// signature is accepted, which is allowed only on a loopback address.
    #[arg(long, env = "S2S_ADMIN_ACCESS_KEY_ID", requires = "admin_secret")]
    pub(crate) admin_access_key_id: Option<String>,

    #[command(flatten)]
    pub(crate) admin_secret: AdminSecret,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,
}

#[derive(Debug, Args)]
#[group(id = "admin_secret", multiple = false)]
pub(crate) struct AdminSecret {
    /// File holding the admin secret access key.
    #[arg(long, env = "S2S_ADMIN_SECRET_ACCESS_KEY_FILE")]
    pub(crate) admin_secret_access_key_file: Option<PathBuf>,

    /// The admin secret access key (prefer the file or the environment: a flag is visible in `ps`).
    #[arg(long, env = "S2S_ADMIN_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub(crate) admin_secret_access_key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UserScheduleServiceArgs {
    /// Address to listen on. Port 0 picks a free port (logged at start).
    #[arg(long, env = "S2S_LISTEN", default_value = "127.0.0.1:8082")]
    pub(crate) listen: SocketAddr,

    /// Database URL: sqlite://PATH, sqlite::memory: or postgres://…
    /// [default: sqlite://<data-dir>/user-schedule-service.db]
    #[arg(long, env = "S2S_DATABASE", hide_env_values = true)]
    pub(crate) database: Option<String>,

    #[command(flatten)]
    pub(crate) data_dir: DataDir,

    /// Issuer whose access tokens are accepted, e.g.
    /// https://cognito-idp.<region>.amazonaws.com/<userPoolId> or
    /// http://127.0.0.1:9229/<userPoolId>. Repeat for several user pools.
    #[arg(
        long = "issuer",
        env = "S2S_ISSUER",
        value_delimiter = ',',
        required = true
    )]
    pub(crate) issuers: Vec<url::Url>,

    /// App client id allowed to call this service. Repeat for several.
    #[arg(long = "client-id", env = "S2S_CLIENT_ID", value_delimiter = ',')]
    pub(crate) client_ids: Vec<String>,

    /// Accept tokens of any app client of the issuer. Without it, at least one
    /// --client-id is required.
    #[arg(long, env = "S2S_ALLOW_ANY_CLIENT", conflicts_with = "client_ids")]
    pub(crate) allow_any_client: bool,

    /// Resource server identifier: scopes are <identifier>/schedule.read and
    /// <identifier>/schedule.update.
    #[arg(
        long,
        env = "S2S_RESOURCE_SERVER",
        default_value = "user-schedule-service"
    )]
    pub(crate) resource_server: String,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClientAuthMethod {
    /// client_secret_basic: Authorization: Basic base64(client_id:client_secret).
    Basic,
    /// client_secret_post: client_id and client_secret in the form body.
    Post,
}

/// The app client's credentials for the token endpoint.
#[derive(Debug, Args)]
pub(crate) struct ClientCredentialsArgs {
    /// Token endpoint, e.g. https://<domain>.auth.<region>.amazoncognito.com/oauth2/token
    /// or http://127.0.0.1:9229/oauth2/token.
    #[arg(long, env = "S2S_TOKEN_URL")]
    pub(crate) token_url: url::Url,

    /// App client id.
    #[arg(long, env = "S2S_CLIENT_ID")]
    pub(crate) client_id: String,

    #[command(flatten)]
    pub(crate) secret: ClientSecretSource,

    /// Scope to request; repeat for several. Omitted: every scope the client is allowed.
    #[arg(long = "scope", env = "S2S_SCOPE", value_delimiter = ' ')]
    pub(crate) scopes: Vec<String>,

    /// How the client authenticates at the token endpoint.
    #[arg(long, env = "S2S_AUTH", value_enum, default_value_t = ClientAuthMethod::Basic)]
    pub(crate) auth: ClientAuthMethod,
}

#[derive(Debug, Args)]
#[group(id = "client_secret_source", required = true, multiple = false)]
pub(crate) struct ClientSecretSource {
    /// File holding the app client secret (e.g. written by `s2s provision`).
    #[arg(long, env = "S2S_CLIENT_SECRET_FILE")]
    pub(crate) client_secret_file: Option<PathBuf>,

    /// The app client secret (prefer the file or the environment: a flag is visible in `ps`).
    #[arg(long, env = "S2S_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) client_secret: Option<String>,
}

impl ClientSecretSource {
    /// The secret from the file (surrounding whitespace trimmed) or the value.
    pub(crate) fn load(&self) -> anyhow::Result<oauth_proto::ClientSecret> {
        read_secret(
            self.client_secret_file.as_deref(),
            self.client_secret.as_deref(),
            "client secret",
        )
    }
}

impl AdminSecret {
    /// The admin secret access key, if one was given.
    pub(crate) fn load(&self) -> anyhow::Result<Option<oauth_proto::ClientSecret>> {
        if self.admin_secret_access_key_file.is_none() && self.admin_secret_access_key.is_none() {
            return Ok(None);
        }
        read_secret(
            self.admin_secret_access_key_file.as_deref(),
            self.admin_secret_access_key.as_deref(),
            "admin secret access key",
        )
        .map(Some)
    }
}

fn read_secret(
    file: Option<&std::path::Path>,
    value: Option<&str>,
    what: &str,
) -> anyhow::Result<oauth_proto::ClientSecret> {
    use anyhow::Context as _;
    let secret = match (file, value) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} from {}", path.display()))?
            .trim()
            .to_owned(),
        (None, Some(value)) => value.trim().to_owned(),
        (None, None) => anyhow::bail!("no {what} given"),
    };
    anyhow::ensure!(!secret.is_empty(), "the {what} is empty");
    Ok(oauth_proto::ClientSecret::new(secret))
}

#[derive(Debug, Args)]
pub(crate) struct ArticlesServiceArgs {
    /// Address to listen on. Port 0 picks a free port (logged at start).
    #[arg(long, env = "S2S_LISTEN", default_value = "127.0.0.1:8081")]
    pub(crate) listen: SocketAddr,

    /// Database URL: sqlite://PATH, sqlite::memory: or postgres://…
    /// [default: sqlite://<data-dir>/articles-service.db]
    #[arg(long, env = "S2S_DATABASE", hide_env_values = true)]
    pub(crate) database: Option<String>,

    #[command(flatten)]
    pub(crate) data_dir: DataDir,

    #[command(flatten)]
    pub(crate) client: ClientCredentialsArgs,

    /// Base URL of user-schedule-service, e.g. http://127.0.0.1:8082.
    #[arg(long, env = "S2S_SCHEDULES_URL")]
    pub(crate) schedules_url: url::Url,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn user_schedule_service_needs_an_issuer() {
        let err = Cli::try_parse_from(["s2s", "serve", "user-schedule-service"]).unwrap_err();
        assert!(err.to_string().contains("--issuer"), "{err}");
    }

    #[test]
    fn articles_service_needs_a_secret_source() {
        let err = Cli::try_parse_from([
            "s2s",
            "serve",
            "articles-service",
            "--token-url",
            "http://127.0.0.1:9229/oauth2/token",
            "--client-id",
            "abc",
            "--schedules-url",
            "http://127.0.0.1:8082",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("client-secret"), "{err}");
    }

    #[test]
    fn secret_values_stay_out_of_help() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .and_then(|s| s.find_subcommand_mut("articles-service"))
            .map(|c| c.render_long_help().to_string())
            .unwrap();
        assert!(help.contains("S2S_CLIENT_SECRET"));
        assert!(!help.contains("[env: S2S_CLIENT_SECRET="));
    }
}
