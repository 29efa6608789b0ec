//! `s2s serve <role>`: one server in the foreground until Ctrl-C or SIGTERM.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use metrics_exporter_prometheus::PrometheusHandle;
use oauth_proto::time::{Clock, SystemClock};
use tokio::net::TcpListener;

use crate::cli::{
    ArticlesServiceArgs, AuthorizationServerArgs, ClientAuthMethod, ServeRole,
    UserScheduleServiceArgs,
};
use crate::provision_at_start;
use crate::shutdown::Shutdown;
use crate::telemetry;

pub(crate) async fn run(role: ServeRole) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals();
    // Each arm runs the same `serve` the crate's tests use: this binary adds nothing but
    // the socket and the signal.
    let (role, result) = match role {
        ServeRole::AuthorizationServer(args) => {
            let (listener, server) = provision_at_start::start(&args, shutdown.clone()).await?;
            let limits = args.server.limits.serve_config();
            let result = authorization_server::serve_with(
                limits,
                listener,
                server.state,
                server.router,
                shutdown.wait(),
            )
            .await;
            if let Some(audit) = server.audit {
                audit.finish().await;
            }
            ("authorization-server", result)
        }
        ServeRole::UserScheduleService(args) => {
            const ROLE: &str = "user-schedule-service";
            let listener = bind(ROLE, args.listen).await?;
            let router =
                user_schedule_service(&args, &listener, telemetry::metrics_handle()?).await?;
            let limits = args.limits.serve_config();
            let result =
                user_schedule_service::serve_with(limits, listener, router, shutdown.wait()).await;
            (ROLE, result)
        }
        ServeRole::ArticlesService(args) => {
            const ROLE: &str = "articles-service";
            let listener = bind(ROLE, args.listen).await?;
            let (state, router) =
                articles_service(&args, &listener, telemetry::metrics_handle()?).await?;
            let limits = args.limits.serve_config();
            let result =
                articles_service::serve_with(limits, listener, state, router, shutdown.wait())
                    .await;
            (ROLE, result)
        }
    };
    result.with_context(|| format!("the {role} stopped with an error"))?;
    tracing::info!(role, "stopped");
    Ok(())
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Binds `addr` for `role`, turning the common failures into a sentence that names both.
pub(crate) async fn bind(role: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    // server-kit's bind: an accept queue deep enough for a crowd of reconnecting callers.
    match server_kit::bind(addr) {
        Ok(listener) => Ok(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot start the {role}: port {} is already in use on {} (stop the other process or choose another port)",
            addr.port(),
            addr.ip()
        )),
        Err(err) => {
            Err(err).with_context(|| format!("cannot start the {role}: cannot listen on {addr}"))
        }
    }
}

/// `--database`, or a SQLite file named after the role under the data dir (created).
pub(crate) fn database_url(
    role: &str,
    database: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<String> {
    if let Some(url) = database {
        return Ok(url.to_owned());
    }
    create_data_dir(data_dir)?;
    Ok(format!("sqlite://{}/{role}.db", data_dir.display()))
}

/// Creates the data directory readable by its owner only (0700, whatever the umask): it
/// holds the signing keys and client secrets. An existing directory is left as it is, with
/// a warning when others may read it.
pub(crate) fn create_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        if let Ok(metadata) = std::fs::metadata(data_dir) {
            if metadata.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    data_dir = %data_dir.display(),
                    "the data directory is readable by other users; it holds signing keys and client secrets: chmod 700 it"
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))
}

/// A configured authorization server that does not serve yet.
pub(crate) struct AuthorizationServer {
    /// What `authorization_server::serve` checks the listener against.
    pub(crate) state: authorization_server::AppState,
    pub(crate) router: axum::Router,
    /// The URL clients use, without a trailing slash: issuers are `<public_url>/<poolId>`.
    pub(crate) public_url: String,
    pub(crate) region: String,
    pub(crate) admin_credentials: Option<authorization_server::AdminCredentials>,
    /// The audit trail's writer (`--audit-log`): finished after the server stops, so the
    /// last events are written.
    pub(crate) audit: Option<authorization_server::audit::AuditWriter>,
}

/// Whether the admin API may go without credentials on a non-loopback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnauthenticatedAdmin {
    /// The rule: no admin credentials, loopback only.
    LoopbackOnly,
    /// `--allow-unauthenticated-admin`: the operator said the network is theirs alone.
    Allowed,
}

/// The authorization server's router on `listener` (bound by the caller, so that `s2s up`
/// can bind all its ports before anything else), its metrics rendered from `metrics`. The
/// loopback rule always applies.
pub(crate) async fn authorization_server(
    args: &AuthorizationServerArgs,
    listener: &TcpListener,
    metrics: PrometheusHandle,
) -> anyhow::Result<(
    authorization_server::AppState,
    Option<authorization_server::audit::AuditWriter>,
)> {
    let server =
        configure_authorization_server(args, listener, metrics, UnauthenticatedAdmin::LoopbackOnly)
            .await?;
    Ok((server.state, server.audit))
}

/// The authorization server on `listener`, bound by the caller.
pub(crate) async fn configure_authorization_server(
    args: &AuthorizationServerArgs,
    listener: &TcpListener,
    metrics: PrometheusHandle,
    unauthenticated_admin: UnauthenticatedAdmin,
) -> anyhow::Result<AuthorizationServer> {
    const ROLE: &str = "authorization-server";
    let admin_credentials = match (&args.admin_access_key_id, args.admin_secret.load()?) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Some(authorization_server::AdminCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key,
            })
        }
        (None, None) => None,
        _ => anyhow::bail!(
            "admin credentials need both --admin-access-key-id and an admin secret access key"
        ),
    };
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let public_url = match &args.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => default_public_url(local),
    };
    let mut config = authorization_server::Config::new(public_url.clone());
    config.region.clone_from(&args.region);
    config.admin_credentials.clone_from(&admin_credentials);
    config.metrics = Some(metrics);
    config.allow_unauthenticated_admin = unauthenticated_admin == UnauthenticatedAdmin::Allowed;
    if let Some(turns) = args.signing.concurrent_signatures {
        config.concurrent_signatures = turns;
    }
    config.signing_queue = args.signing.signing_queue;
    config.lambda_endpoints = args.lambdas.iter().cloned().collect();
    config.client_rate_limit = args.rate_limits.client_rate_limit;
    config.address_rate_limit = args.rate_limits.address_rate_limit;
    check_listen_addr(&config, local, unauthenticated_admin)
        .with_context(|| format!("refusing to start the {ROLE}"))?;
    let url = database_url(ROLE, args.database.as_deref(), &args.data_dir.data_dir)?;
    let store = authorization_server::store::connect(&url)
        .await
        .with_context(|| format!("cannot open the {ROLE} database"))?;
    let audit = match &args.audit_log {
        Some(path) => {
            let (log, writer) = crate::audit::open(path)?;
            config.audit = Some(log);
            Some(writer)
        }
        None => None,
    };
    let state = authorization_server::AppState::new(config, store, clock());
    tracing::info!(role = ROLE, listen = %local, %public_url, "listening");
    Ok(AuthorizationServer {
        router: authorization_server::router(state.clone()),
        state,
        public_url,
        region: args.region.clone(),
        admin_credentials,
        audit,
    })
}

/// The server's own check (public URL, and no unsigned admin API off loopback), with
/// `--allow-unauthenticated-admin` lifting only the second half.
fn check_listen_addr(
    config: &authorization_server::Config,
    local: SocketAddr,
    unauthenticated_admin: UnauthenticatedAdmin,
) -> anyhow::Result<()> {
    use authorization_server::ConfigError;
    match config.check_listen_addr(local) {
        Ok(()) => Ok(()),
        Err(ConfigError::UnauthenticatedAdminApi { .. })
            if unauthenticated_admin == UnauthenticatedAdmin::Allowed =>
        {
            tracing::warn!(
                listen = %local,
                "the admin API accepts unsigned requests from anyone who can reach this address (--allow-unauthenticated-admin)"
            );
            Ok(())
        }
        Err(err @ ConfigError::UnauthenticatedAdminApi { .. }) => Err(anyhow::anyhow!(
            "{err}. Set S2S_ADMIN_ACCESS_KEY_ID and S2S_ADMIN_SECRET_ACCESS_KEY_FILE (or \
             S2S_ADMIN_SECRET_ACCESS_KEY), or, for a server that only you can reach (a \
             container port published on the host's loopback), pass \
             --allow-unauthenticated-admin (S2S_ALLOW_UNAUTHENTICATED_ADMIN=true)"
        )),
        Err(err) => Err(err.into()),
    }
}

/// `http://<listen address>`, with the loopback address of the same family in place of
/// an unspecified one (0.0.0.0, [::]), which no client can connect to.
fn default_public_url(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, local.port()))
}

/// Distinct tokens remembered as verified; a handful of clients each hold one token at a
/// time, so this is generous.
const VERIFIED_TOKEN_CACHE_ENTRIES: usize = 1024;

pub(crate) async fn user_schedule_service(
    args: &UserScheduleServiceArgs,
    listener: &TcpListener,
    metrics: PrometheusHandle,
) -> anyhow::Result<axum::Router> {
    const ROLE: &str = "user-schedule-service";
    if args.client_ids.is_empty() && !args.allow_any_client {
        anyhow::bail!(
            "refusing to start the {ROLE}: no --client-id given. Name the app clients allowed to call it, or pass --allow-any-client to accept every client of the issuer"
        );
    }
    // The verified-token cache makes repeat calls with the same token (a client reuses its
    // token for up to an hour) cost a hash lookup instead of an RSA verification: it is
    // what keeps the auth overhead under 10% (BENCHMARKS.md). Entries never outlive `exp`.
    let mut builder = jwt_verifier::Verifier::builder()
        .clock(clock())
        .token_cache(VERIFIED_TOKEN_CACHE_ENTRIES);
    for issuer in &args.issuers {
        builder = builder.issuer(issuer.as_str().trim_end_matches('/'));
    }
    builder = if args.allow_any_client {
        builder.allow_any_client_id()
    } else {
        builder.client_ids(args.client_ids.iter().cloned())
    };
    if args.allow_insecure_http_issuer {
        tracing::warn!(
            "plain http issuers are accepted on any host (--allow-insecure-http-issuer): anyone on the network path to them can replace their keys and sign any token"
        );
    }
    let verifier = builder
        .allow_insecure_http(args.allow_insecure_http_issuer)
        .build()
        .context("invalid token verification settings")?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let url = database_url(ROLE, args.database.as_deref(), &args.data_dir.data_dir)?;
    let store = user_schedule_service::store::connect(&url)
        .await
        .with_context(|| format!("cannot open the {ROLE} database"))?;
    // Warm the key cache; if the issuer is not reachable yet, the service still starts
    // and reports not-ready on /readyz until the keys can be fetched.
    if let Err(err) = verifier.hydrate().await {
        tracing::warn!(error = %err, "cannot fetch the issuer's keys yet; /readyz reports not ready until they load");
    }
    let mut config = user_schedule_service::Config::default();
    config.resource_server.clone_from(&args.resource_server);
    config.metrics = Some(metrics);
    config.admission.queue = args.database_queue.database_queue;
    let state = user_schedule_service::AppState::new(config, store, verifier, clock());
    tracing::info!(role = ROLE, listen = %local, "listening");
    Ok(user_schedule_service::router(state))
}

pub(crate) fn token_provider(
    client: &crate::cli::ClientCredentialsArgs,
) -> anyhow::Result<token_provider::TokenProvider> {
    let client_id =
        oauth_proto::ClientId::parse(&client.client_id).context("invalid --client-id")?;
    let mut builder = token_provider::TokenProvider::builder()
        .token_url(client.token_url.as_str())
        .client_id(client_id)
        .client_secret_source(client.secret.source()?)
        .auth(match client.auth {
            ClientAuthMethod::Basic => token_provider::ClientAuth::Basic,
            ClientAuthMethod::Post => token_provider::ClientAuth::Post,
        })
        .clock(clock());
    if !client.scopes.is_empty() {
        let scopes: oauth_proto::Scopes =
            client.scopes.join(" ").parse().context("invalid --scope")?;
        builder = builder.scopes(scopes);
    }
    builder.build().context("invalid token settings")
}

/// articles-service on `listener`: its state (what `articles_service::serve` checks the
/// listener against) and its router.
pub(crate) async fn articles_service(
    args: &ArticlesServiceArgs,
    listener: &TcpListener,
    metrics: PrometheusHandle,
) -> anyhow::Result<(articles_service::AppState, axum::Router)> {
    const ROLE: &str = "articles-service";
    let tokens = token_provider(&args.client)?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let (write_auth, allow_anonymous_writes) = writers(&args.writers, local, &tokens)
        .await
        .with_context(|| format!("refusing to start the {ROLE}"))?;
    let url = database_url(ROLE, args.database.as_deref(), &args.data_dir.data_dir)?;
    let store = articles_service::store::connect(&url)
        .await
        .with_context(|| format!("cannot open the {ROLE} database"))?;
    let mut config =
        articles_service::Config::new(args.schedules_url.as_str().trim_end_matches('/'));
    config.metrics = Some(metrics);
    config.write_auth = write_auth;
    config.allow_anonymous_writes = allow_anonymous_writes;
    config.admission.queue = args.database_queue.database_queue;
    let state = articles_service::AppState::new(config, store, tokens, clock())
        .context("cannot set up the articles-service")?;
    tracing::info!(role = ROLE, listen = %local, "listening");
    Ok((state.clone(), articles_service::router(state)))
}

/// Who may call articles-service's write routes: anyone on loopback (the walkthrough,
/// `s2s up`) or with `--allow-anonymous-writes` (with a warning off loopback); otherwise a
/// token with the write scope, from `--writer-issuer` or, by default, the issuer of the
/// service's own token (the same user pool), which is fetched here to learn it.
async fn writers(
    args: &crate::cli::WritersArgs,
    local: SocketAddr,
    tokens: &token_provider::TokenProvider,
) -> anyhow::Result<(Option<articles_service::WriteAuth>, bool)> {
    let loopback = local.ip().is_loopback();
    if args.allow_anonymous_writes {
        if !loopback {
            tracing::warn!(
                listen = %local,
                "the write routes accept anonymous requests from anyone who can reach this address (--allow-anonymous-writes)"
            );
        }
        return Ok((None, true));
    }
    if loopback && args.writer_issuer.is_none() && args.writer_client_ids.is_empty() {
        return Ok((None, false));
    }
    let issuer = match &args.writer_issuer {
        Some(issuer) => issuer.as_str().trim_end_matches('/').to_owned(),
        None => own_issuer(tokens).await?,
    };
    let mut builder = jwt_verifier::Verifier::builder()
        .issuer(issuer.as_str())
        .clock(clock());
    builder = if args.writer_client_ids.is_empty() {
        builder.allow_any_client_id()
    } else {
        builder.client_ids(args.writer_client_ids.iter().cloned())
    };
    let verifier = builder
        .build()
        .context("invalid writer token settings (--writer-issuer, --writer-client-id)")?;
    if let Err(err) = verifier.hydrate().await {
        tracing::warn!(error = %err, "cannot fetch the writers' issuer keys yet; writes get 503 until they load");
    }
    tracing::info!(
        %issuer,
        scope = articles_service::WRITE_SCOPE,
        "the write routes need a bearer token with the write scope"
    );
    Ok((Some(articles_service::WriteAuth::new(verifier)), false))
}

/// The `iss` of this service's own access token: the user pool it belongs to. The token
/// comes from the configured token endpoint (https, or loopback), so its claim is as
/// trustworthy as that endpoint; it is cached for the service's first upstream call.
async fn own_issuer(tokens: &token_provider::TokenProvider) -> anyhow::Result<String> {
    let token = tokens.token().await.context(
        "cannot get this service's own token to learn the writers' issuer: pass --writer-issuer",
    )?;
    let decoded = crate::inspect::Decoded::parse(token.secret())
        .context("this service's own token is not a JWT: pass --writer-issuer")?;
    decoded
        .string_claim("iss")
        .map(str::to_owned)
        .context("this service's own token has no iss claim: pass --writer-issuer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_public_url_replaces_an_unspecified_address_with_loopback() {
        let url = |addr: &str| default_public_url(addr.parse().unwrap());
        assert_eq!(url("0.0.0.0:9229"), "http://127.0.0.1:9229");
        assert_eq!(url("[::]:9229"), "http://[::1]:9229");
        assert_eq!(url("127.0.0.1:9229"), "http://127.0.0.1:9229");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80");
    }

    /// The README's stack for writing articles off loopback: the editor is granted the
    /// scope articles-service requires.
    #[test]
    fn the_editor_stack_grants_the_write_scope() {
        let stack = crate::stack::parse(
            "examples/stack-editor.toml",
            include_str!("../../../examples/stack-editor.toml"),
        )
        .unwrap();
        assert_eq!(stack.app_client.name, "editor");
        assert_eq!(
            stack.app_client.allowed_oauth_scopes,
            [articles_service::WRITE_SCOPE]
        );
    }
}
