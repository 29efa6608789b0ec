//! The arguments of `s2s serve <role>`, which `s2s up` also fills in for the three
//! servers it runs.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ClientCredentialsArgs, TokenRateLimits, read_secret};
use crate::limits::{ConnectionLimits, DatabaseQueue};
use crate::traces::TraceArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum ServeRole {
    /// The local Cognito-compatible authorization server: admin API (AWS JSON 1.1),
    /// token endpoint, JWKS and discovery, on one host; with --stack, provisioned before
    /// it accepts connections.
    // Boxed: each is large, and they differ in size.
    AuthorizationServer(Box<ServeAuthorizationServerArgs>),
    /// The resource server: users' schedules behind scope checks.
    UserScheduleService(Box<UserScheduleServiceArgs>),
    /// The client service: the articles API, calling user-schedule-service with its own
    /// access token.
    ArticlesService(Box<ArticlesServiceArgs>),
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
    /// [default: http://<listen address>, with 127.0.0.1 or [::1] for 0.0.0.0 or [::]]
    #[arg(long, env = "S2S_PUBLIC_URL")]
    pub(crate) public_url: Option<url::Url>,

    /// Region used in user pool ids and ARNs.
    #[arg(long, env = "S2S_REGION", default_value = "us-east-1")]
    pub(crate) region: String,

    /// Access key id the admin API accepts (SigV4). Without admin credentials any
    /// signature is accepted, which is allowed only on a loopback address (unless
    /// `serve authorization-server --allow-unauthenticated-admin`).
    #[arg(long, env = "S2S_ADMIN_ACCESS_KEY_ID", requires = "admin_secret")]
    pub(crate) admin_access_key_id: Option<String>,

    #[command(flatten)]
    pub(crate) admin_secret: AdminSecret,

    /// A Lambda function run locally, as ARN=URL (repeatable; comma-separated in the
    /// variable). The server POSTs a trigger's event to the URL and reads the function's
    /// answer, as Cognito invokes the function: any HTTP handler serves, including the
    /// Lambda Runtime Interface Emulator's /2015-03-31/functions/function/invocations. A
    /// pool's pre token generation trigger (LambdaVersion V3_0) runs for every
    /// client-credentials token; without a URL for its ARN, token requests are refused.
    #[arg(
        long = "lambda",
        env = "S2S_LAMBDA",
        value_name = "ARN=URL",
        value_delimiter = ',',
        value_parser = parse_lambda
    )]
    pub(crate) lambdas: Vec<(String, String)>,
    /// Write the audit trail here: one JSON event (CloudTrail's shape) per token request
    /// and per admin write, never a secret or a token. Appended to, created mode 0600;
    /// `-` writes to stdout. [default: none; `s2s up` writes <data-dir>/audit.log]
    #[arg(long, env = "S2S_AUDIT_LOG")]
    pub(crate) audit_log: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,

    #[command(flatten)]
    pub(crate) signing: SigningArgs,

    #[command(flatten)]
    pub(crate) rate_limits: TokenRateLimits,
}

/// The authorization server's signing turns: how many tokens are signed at once, and how
/// many token requests may wait for a turn before new ones are refused.
#[derive(Debug, Clone, Args)]
pub(crate) struct SigningArgs {
    /// RSA signatures of tokens made at once; token requests wait for their turn in arrival
    /// order. 0: each request signs at once, with no queue and no admission control (the
    /// former behaviour, unfair under overload; for comparison).
    /// [default: one per core the process may use]
    #[arg(long, alias = "signing-threads", env = "S2S_CONCURRENT_SIGNATURES", value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub(crate) concurrent_signatures: Option<usize>,

    /// Token requests that may wait for a turn to sign; past it a token request is answered
    /// at once with 429 Too Many Requests, Retry-After: 1 and error
    /// temporarily_unavailable (GetClientToken: TooManyRequestsException), so that the wait
    /// and the memory stay bounded under overload.
    #[arg(long, env = "S2S_SIGNING_QUEUE", value_name = "N",
          default_value_t = authorization_server::DEFAULT_SIGNING_QUEUE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub(crate) signing_queue: usize,
}

impl Default for SigningArgs {
    /// The flags' defaults, for `s2s up`.
    fn default() -> Self {
        Self {
            concurrent_signatures: None,
            signing_queue: authorization_server::DEFAULT_SIGNING_QUEUE,
        }
    }
}

/// `ARN=URL` of `--lambda`: an `arn:` and an http(s) URL.
pub(super) fn parse_lambda(value: &str) -> Result<(String, String), String> {
    let (arn, url) = value
        .split_once('=')
        .ok_or_else(|| format!("expected ARN=URL, found {value:?}"))?;
    if !arn.starts_with("arn:") {
        return Err(format!("{arn:?} is not an ARN (arn:aws:lambda:…)"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    Ok((arn.to_owned(), url.to_owned()))
}

/// `s2s serve authorization-server`: the server's settings (shared with `s2s up`), plus
/// what only a stand-alone server needs.
#[derive(Debug, Args)]
pub(crate) struct ServeAuthorizationServerArgs {
    #[command(flatten)]
    pub(crate) server: AuthorizationServerArgs,

    #[command(flatten)]
    pub(crate) traces: TraceArgs,

    /// Serve the admin API without admin credentials on a non-loopback address: anyone
    /// who can reach the port can then create clients and mint tokens. For a throwaway
    /// server on a network that only you reach, such as a container's port published on
    /// the host's loopback; without it, a non-loopback --listen needs admin credentials.
    #[arg(long, env = "S2S_ALLOW_UNAUTHENTICATED_ADMIN")]
    pub(crate) allow_unauthenticated_admin: bool,

    /// A stack to apply through the admin API before the server accepts connections (the
    /// same provisioning as `s2s provision`, signed with the admin credentials), so that
    /// once the port answers the pool, domain, resource servers and app client exist.
    #[arg(long, env = "S2S_STACK")]
    pub(crate) stack: Option<PathBuf>,

    /// With --stack: where to write the outputs as JSON (they are printed too; ignored
    /// without --stack).
    /// [default: <data-dir>/outputs.json]
    #[arg(long, env = "S2S_OUT")]
    pub(crate) out: Option<PathBuf>,

    /// With --stack: where to write the client secret (mode 0600; never printed).
    /// [default: client-secret next to the outputs]
    #[arg(long, env = "S2S_SECRET_OUT")]
    pub(crate) secret_out: Option<PathBuf>,
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

    #[command(flatten)]
    pub(crate) traces: TraceArgs,

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

    /// Accept an --issuer that is plain http on a host that is not loopback (a private
    /// test network such as a compose file's). Its keys then cross the network
    /// unauthenticated: anyone on the path can replace them and sign any token. Without
    /// it such an issuer is refused; https, or http on localhost, 127.0.0.0/8 or [::1],
    /// is always accepted.
    #[arg(long, env = "S2S_ALLOW_INSECURE_HTTP_ISSUER")]
    pub(crate) allow_insecure_http_issuer: bool,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,

    #[command(flatten)]
    pub(crate) database_queue: DatabaseQueue,
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
    pub(crate) traces: TraceArgs,

    #[command(flatten)]
    pub(crate) client: ClientCredentialsArgs,

    /// Base URL of user-schedule-service, e.g. http://127.0.0.1:8082.
    #[arg(long, env = "S2S_SCHEDULES_URL")]
    pub(crate) schedules_url: url::Url,

    #[command(flatten)]
    pub(crate) writers: WritersArgs,

    #[command(flatten)]
    pub(crate) limits: ConnectionLimits,

    #[command(flatten)]
    pub(crate) database_queue: DatabaseQueue,
}

/// Who may call articles-service's write routes (POST /articles, PUT and DELETE
/// /articles/{id}, POST /articles/{id}/publication). On a loopback --listen they are
/// anonymous; on any other they need a bearer token with the scope
/// articles-service/articles.write, unless --allow-anonymous-writes.
#[derive(Debug, Default, Args)]
pub(crate) struct WritersArgs {
    /// Serve the write routes without a credential on a non-loopback --listen: anyone who
    /// can reach the port can then create, change and delete articles. Without it, off
    /// loopback, writes need a token with the scope articles-service/articles.write.
    #[arg(
        long,
        env = "S2S_ALLOW_ANONYMOUS_WRITES",
        conflicts_with_all = ["writer_issuer", "writer_client_ids"]
    )]
    pub(crate) allow_anonymous_writes: bool,

    /// Issuer of the tokens the write routes accept, e.g.
    /// https://cognito-idp.<region>.amazonaws.com/<userPoolId>. Giving it (or
    /// --writer-client-id) requires tokens for writes on loopback too. [default: the
    /// issuer of this service's own access token, fetched at start: the same user pool]
    #[arg(long, env = "S2S_WRITER_ISSUER")]
    pub(crate) writer_issuer: Option<url::Url>,

    /// App client allowed to write (repeat for several). [default: any app client of the
    /// issuer whose token carries articles-service/articles.write]
    #[arg(
        long = "writer-client-id",
        env = "S2S_WRITER_CLIENT_ID",
        value_delimiter = ','
    )]
    pub(crate) writer_client_ids: Vec<String>,
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
