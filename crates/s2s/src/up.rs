//! `s2s up`: the whole flow in one process, on loopback.
//!
//! 1. the authorization server (SQLite under the data dir, so keys and clients survive);
//! 2. the stack, provisioned against it over HTTP with the AWS SDK: the same code as
//!    `s2s provision --endpoint-url`;
//! 3. user-schedule-service, trusting the provisioned issuer and client id;
//! 4. articles-service, with the provisioned token URL and client id, reading its secret
//!    from `<data dir>/client-secret` before each token request (so `s2s secrets rotate`
//!    on that file replaces it without a restart);
//!
//! then a summary with commands to try, and a wait for Ctrl-C or SIGTERM, which stops all
//! three gracefully. If one server stops on its own, the others are stopped too.

use std::future::Future;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::cli::{
    AdminSecret, ArticlesServiceArgs, AuthorizationServerArgs, ClientAuthMethod,
    ClientCredentialsArgs, ClientSecretSource, DataDir, SigningArgs, UpArgs,
    UserScheduleServiceArgs, WritersArgs,
};
use crate::limits::DatabaseQueue;
use crate::lock::DataDirLock;
use crate::output_files;
use crate::provision::{self, Outputs};
use crate::sdk;
use crate::serve;
use crate::shutdown::Shutdown;
use crate::stack::{self, Stack};
use crate::telemetry::ServerMetrics;

/// How long each server gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The stack: `--stack`, else `./stack.toml`, else the reference stack of this binary.
fn load_stack(path: Option<&Path>) -> anyhow::Result<(Stack, String)> {
    if let Some(path) = path {
        return Ok((stack::load(path)?, path.display().to_string()));
    }
    let default = Path::new("stack.toml");
    if default.exists() {
        return Ok((stack::load(default)?, "stack.toml".to_owned()));
    }
    let stack = stack::parse("(built-in stack.toml)", stack::REFERENCE)?;
    Ok((stack, "the built-in reference stack".to_owned()))
}

/// `s2s up`.
pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    let (stack, stack_name) = load_stack(args.stack.as_deref())?;
    // Before anything else: a second `up` on this directory must change nothing.
    let lock = DataDirLock::acquire(&args.data_dir)?;
    let listeners = match Listeners::bind(&args).await {
        Ok(listeners) => listeners,
        Err(err) => {
            lock.abandon();
            return Err(err);
        }
    };
    let (shutdown, trigger) = Shutdown::on_signals_with_trigger();
    let mut servers = tokio::task::JoinSet::new();

    // Startup stops early on Ctrl-C; servers already spawned then stop with the trigger.
    let started = tokio::select! {
        started = start(&args, &stack, &stack_name, listeners, &shutdown, &mut servers) => started,
        () = shutdown.clone().wait() => Err(anyhow::anyhow!("interrupted while starting")),
    };
    if started.is_err() {
        trigger.fire();
    }

    let mut failure: Option<anyhow::Error> = None;
    while let Some(joined) = servers.join_next().await {
        // Whatever stopped, stop the rest: a half-running flow only confuses.
        trigger.fire();
        match joined {
            Ok((role, Err(err))) => {
                let err =
                    anyhow::Error::new(err).context(format!("the {role} stopped with an error"));
                tracing::error!("{err:#}");
                failure.get_or_insert(err);
            }
            Ok((role, Ok(()))) => tracing::info!(role, "stopped"),
            Err(err) => {
                failure.get_or_insert(anyhow::Error::new(err).context("a server task failed"));
            }
        }
    }
    if started.is_err() {
        lock.abandon();
    } else {
        drop(lock);
    }
    started?;
    match failure {
        Some(err) => Err(err),
        None => {
            // Ignore a closed stdout: the servers did stop cleanly.
            let _ = writeln!(std::io::stdout(), "stopped");
            Ok(())
        }
    }
}

/// The three ports, bound before anything is provisioned or written: a port in use fails
/// `up` while it has changed nothing.
struct Listeners {
    auth: TcpListener,
    schedules: TcpListener,
    articles: TcpListener,
}

impl Listeners {
    async fn bind(args: &UpArgs) -> anyhow::Result<Self> {
        Ok(Self {
            auth: serve::bind("authorization-server", loopback(args.auth_port))
                .await
                .map_err(port_hint("--auth-port"))?,
            schedules: serve::bind("user-schedule-service", loopback(args.schedules_port))
                .await
                .map_err(port_hint("--schedules-port"))?,
            articles: serve::bind("articles-service", loopback(args.articles_port))
                .await
                .map_err(port_hint("--articles-port"))?,
        })
    }
}

type ServerTasks = tokio::task::JoinSet<(&'static str, std::io::Result<()>)>;

fn spawn_server<F>(servers: &mut ServerTasks, role: &'static str, serve: F)
where
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    servers.spawn(async move { (role, serve.await) });
}

async fn start(
    args: &UpArgs,
    stack: &Stack,
    stack_name: &str,
    listeners: Listeners,
    shutdown: &Shutdown,
    servers: &mut ServerTasks,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("cannot set up the HTTP client")?;
    let data_dir = &args.data_dir;
    let limits = args.limits.serve_config();
    // One recorder per server, so that each `/metrics` serves its own server's series.
    let auth_metrics = ServerMetrics::new();
    let schedules_metrics = ServerMetrics::new();
    let articles_metrics = ServerMetrics::new();
    articles_metrics.install_as_fallback()?;

    // 1. The authorization server.
    let auth_args = AuthorizationServerArgs {
        listen: loopback(args.auth_port),
        database: None,
        data_dir: DataDir {
            data_dir: data_dir.clone(),
        },
        public_url: None,
        region: args.region.clone(),
        admin_access_key_id: None,
        admin_secret: AdminSecret {
            admin_secret_access_key_file: None,
            admin_secret_access_key: None,
        },
        // The stack's pre token generation function, at the URL it names.
        lambdas: stack
            .user_pool
            .pre_token_generation
            .iter()
            .filter_map(|hook| Some((hook.lambda_arn.clone(), hook.local_url.clone()?)))
            .collect(),
        audit_log: Some(data_dir.join(crate::audit::FILE_NAME)),
        limits: args.limits.clone(),
        signing: SigningArgs::default(),
        rate_limits: args.rate_limits.clone(),
    };
    let listener = listeners.auth;
    let (auth_state, audit) = auth_metrics
        .scope(serve::authorization_server(
            &auth_args,
            &listener,
            auth_metrics.handle(),
        ))
        .await?;
    let auth_url = base_url(&listener)?;
    spawn_server(servers, "authorization-server", {
        let serve = authorization_server::serve_with(
            limits.clone(),
            listener,
            auth_state.clone(),
            auth_metrics.scope_router(authorization_server::router(auth_state)),
            shutdown.clone().wait(),
        );
        async move {
            let result = serve.await;
            // The last events reach the file before `up` exits.
            if let Some(audit) = audit {
                audit.finish().await;
            }
            result
        }
    });
    wait_ready(
        &http,
        "authorization-server",
        &format!("{auth_url}/healthz"),
    )
    .await?;

    // 2. The stack, through the admin API, exactly as `s2s provision --endpoint-url` does.
    println!("provisioning {stack_name} on {auth_url}");
    let (client, target) = sdk::sdk_client(Some(&auth_url), Some(&args.region)).await?;
    let provisioned =
        provision::apply(&client, stack, &target, &mut |line| println!("  {line}")).await?;
    let outputs = provisioned.outputs;
    let outputs_path = data_dir.join("outputs.json");
    let secret_path = output_files::default_secret_path(&outputs_path);

    // 3. The resource server, trusting only the provisioned issuer and client.
    let resource_server = stack.resource_servers.first().map_or_else(
        || "user-schedule-service".to_owned(),
        |rs| rs.identifier.clone(),
    );
    let issuer = url::Url::parse(&outputs.issuer).context("the provisioned issuer is not a URL")?;
    let schedules_args = UserScheduleServiceArgs {
        listen: loopback(args.schedules_port),
        database: None,
        data_dir: DataDir {
            data_dir: data_dir.clone(),
        },
        // The process's exporter, set up from `s2s up`'s own flags, serves all three.
        traces: args.traces.clone(),
        issuers: vec![issuer],
        client_ids: vec![outputs.client_id.clone()],
        allow_any_client: false,
        resource_server: resource_server.clone(),
        allow_insecure_http_issuer: false,
        limits: args.limits.clone(),
        database_queue: DatabaseQueue::default(),
    };
    let listener = listeners.schedules;
    let router = schedules_metrics
        .scope(serve::user_schedule_service(
            &schedules_args,
            &listener,
            schedules_metrics.handle(),
        ))
        .await?;
    let schedules_url = base_url(&listener)?;
    spawn_server(
        servers,
        "user-schedule-service",
        user_schedule_service::serve_with(
            limits.clone(),
            listener,
            schedules_metrics.scope_router(router),
            shutdown.clone().wait(),
        ),
    );

    // 4. The client service, with the provisioned credentials. Its secret is the file, read
    //    again before each token request, so the rotation the summary prints needs no
    //    restart; it is written now, before the service reads it. (The file alone points
    //    at no server: outputs.json still waits until all three answer.)
    output_files::write_secret(&secret_path, &provisioned.client_secret)?;
    let articles_args = ArticlesServiceArgs {
        listen: loopback(args.articles_port),
        database: None,
        data_dir: DataDir {
            data_dir: data_dir.clone(),
        },
        traces: args.traces.clone(),
        client: ClientCredentialsArgs {
            token_url: url::Url::parse(&outputs.token_url)
                .context("the provisioned token URL is not a URL")?,
            client_id: outputs.client_id.clone(),
            secret: ClientSecretSource {
                client_secret_file: Some(secret_path.clone()),
                client_secret: None,
            },
            scopes: Vec::new(),
            auth: ClientAuthMethod::Basic,
        },
        schedules_url: url::Url::parse(&schedules_url)
            .context("the user-schedule-service URL is not a URL")?,
        // On loopback: the write routes stay anonymous, as the walkthrough uses them.
        writers: WritersArgs::default(),
        limits: args.limits.clone(),
        database_queue: DatabaseQueue::default(),
    };
    let listener = listeners.articles;
    let (articles_state, router) = articles_metrics
        .scope(serve::articles_service(
            &articles_args,
            &listener,
            articles_metrics.handle(),
        ))
        .await?;
    let articles_url = base_url(&listener)?;
    spawn_server(
        servers,
        "articles-service",
        articles_service::serve_with(
            limits.clone(),
            listener,
            articles_state,
            articles_metrics.scope_router(router),
            shutdown.clone().wait(),
        ),
    );

    wait_ready(
        &http,
        "user-schedule-service",
        &format!("{schedules_url}/readyz"),
    )
    .await?;
    wait_ready(&http, "articles-service", &format!("{articles_url}/readyz")).await?;

    // 5. Only now, with all three answering, the outputs other tools read: outputs.json
    //    never points at a server that is not running.
    output_files::write_outputs(&outputs_path, &outputs)?;

    let summary = Summary {
        data_dir,
        auth_url: &auth_url,
        schedules_url: &schedules_url,
        articles_url: &articles_url,
        outputs: &outputs,
        secret_path: &secret_path,
        outputs_path: &outputs_path,
        stack,
        resource_server: &resource_server,
    };
    println!("{}", summary.render(&command_name()));
    Ok(())
}

/// Adds the `s2s up` flag that moves a server to a port-in-use error.
fn port_hint(flag: &'static str) -> impl FnOnce(anyhow::Error) -> anyhow::Error {
    move |err| {
        if err.to_string().contains("already in use") {
            anyhow::anyhow!("{err:#}; `s2s up {flag} <port>` moves it (0: any free port)")
        } else {
            err
        }
    }
}

/// `http://<bound address>`.
fn base_url(listener: &tokio::net::TcpListener) -> anyhow::Result<String> {
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    Ok(format!("http://{addr}"))
}

/// Polls `url` until it answers 2xx.
async fn wait_ready(http: &reqwest::Client, role: &str, url: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let last = match http.get(url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => format!("{url} answered {}", response.status()),
            Err(err) => err.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the {role} did not become ready within {}s ({last})",
                READY_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How to call this binary in the printed commands: its path relative to the current
/// directory when it is below it (`./target/release/s2s`), else `s2s`.
fn command_name() -> String {
    let relative = std::env::current_exe().ok().and_then(|exe| {
        let cwd = std::env::current_dir().ok()?;
        exe.strip_prefix(&cwd).ok().map(Path::to_path_buf)
    });
    match relative {
        Some(path) => format!("./{}", path.display()),
        None => "s2s".to_owned(),
    }
}

struct Summary<'a> {
    data_dir: &'a PathBuf,
    auth_url: &'a str,
    schedules_url: &'a str,
    articles_url: &'a str,
    outputs: &'a Outputs,
    secret_path: &'a Path,
    outputs_path: &'a Path,
    stack: &'a Stack,
    resource_server: &'a str,
}

impl Summary<'_> {
    fn render(&self, s2s: &str) -> String {
        let o = self.outputs;
        let secret = self.secret_path.display();
        let rs = self.resource_server;
        let allowed = self.stack.app_client.allowed_oauth_scopes.join(" ");
        let scope_param = allowed.replace('/', "%2F").replace(' ', "%20");
        let articles = self.articles_url;
        let client_name = &self.stack.app_client.name;
        format!(
            r#"
s2s is up. Ctrl-C stops all three servers.

  authorization-server   {auth}    issuer {issuer}
  user-schedule-service  {schedules}    accepts tokens of client {client_id} only
  articles-service       {articles}    calls user-schedule-service as {client_name} ({client_id})

  outputs        {outputs_path}
  client secret  {secret}  (mode 0600; replace it with no failed call:
                 {s2s} secrets rotate --endpoint-url {auth} --pool-id {pool} --client-id {client_id} --secret-file {secret})
  data           {data_dir}  (a second `s2s up` here reuses the pool, client, secret and keys)
  console        {auth}/console  (pools, keys, scopes, clients and token activity, in a browser)
  audit trail    {data_dir}/audit.log  (every token request and admin write: `{s2s} audit -f`)

Try it from another terminal in this directory:

# 1. The token request articles-service makes (client_credentials, HTTP Basic auth):
CLIENT_ID={client_id}
curl -X POST {token_url} \
  -H 'Content-Type: application/x-www-form-urlencoded' \
  -u "$CLIENT_ID:$(cat {secret})" \
  -d 'grant_type=client_credentials&scope={scope_param}'

# 2. The same token, decoded, then verified against the pinned issuer:
{s2s} token --token-url {token_url} --client-id $CLIENT_ID --client-secret-file {secret} --decode
TOKEN=$({s2s} token --token-url {token_url} --client-id $CLIENT_ID --client-secret-file {secret} | sed -n 's/.*"access_token": "\(.*\)".*/\1/p')
{s2s} inspect "$TOKEN" --issuer {issuer}

# 3. Create an article (the public API of articles-service: no token needed):
ARTICLE=$(curl -s -X POST {articles}/articles -H 'Content-Type: application/json' \
  -d '{{"title":"Tokens without users","body":"Client credentials in practice.","author_id":"alice","publish_at":"2030-01-07T09:00:00Z"}}' \
  | sed 's/.*"id":"\([^"]*\)".*/\1/'); echo "$ARTICLE"

# 4. The author's schedule: articles-service calls user-schedule-service with its token
#    (scope {rs}/schedule.read) -> 200
curl -s -i {articles}/articles/$ARTICLE/author-schedule

# 5. Book the publication in the author's schedule: needs {rs}/schedule.update, which
#    {client_name} is not granted -> 502, naming the upstream 403 and the missing scope
curl -s -i -X POST {articles}/articles/$ARTICLE/publication

# 6. Grant schedule.update: add "{rs}/schedule.update" to allowed_oauth_scopes in
#    stack.toml, then Ctrl-C and `s2s up` again: the client is updated in place (same id,
#    same secret). Step 5 then answers 201. Or tick the scope's box in the console:
#    {auth}/console/pools/{pool}/clients/{client_id}
#    Or, without a restart, apply the change with
{s2s} provision --stack stack.toml --endpoint-url {auth} --out {outputs_path}
#    or with the AWS CLI (UpdateUserPoolClient replaces the whole configuration; the CLI
#    must sign its request, and the local server accepts any signature, so placeholder
#    credentials do):
#    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
#    aws cognito-idp update-user-pool-client --endpoint-url {auth} --region {region} \
#      --user-pool-id {pool} --client-id $CLIENT_ID --allowed-o-auth-flows-user-pool-client \
#      --allowed-o-auth-flows client_credentials --supported-identity-providers COGNITO \
#      --allowed-o-auth-scopes {rs}/schedule.read {rs}/schedule.update \
#      --access-token-validity {validity} --token-validity-units AccessToken={units}
#    Either way the next publication call picks up the new scope: articles-service replaces
#    its token when user-schedule-service says a scope is missing (right after a refusal
#    it waits a few seconds before asking again: if step 5 still answers 502, call again).
#    A restart of `s2s up` re-applies stack.toml, so a grant made only with the CLI or the console is undone.
"#,
            auth = self.auth_url,
            issuer = o.issuer,
            schedules = self.schedules_url,
            client_id = o.client_id,
            outputs_path = self.outputs_path.display(),
            data_dir = self.data_dir.display(),
            token_url = o.token_url,
            region = o.region,
            pool = o.user_pool_id,
            validity = self.stack.app_client.access_token_validity,
            units = self.stack.app_client.token_validity_units.as_str(),
        )
    }
}
