//! `s2s serve authorization-server --stack`: the stack applied before the server accepts
//! connections, so that a CI job (or a container's user) finds the pool, the domain, the
//! resource servers and the app client in place as soon as the port answers.
//!
//! Provisioning goes through the admin API with the AWS SDK, as `s2s provision` does, but
//! on a private listener on 127.0.0.1 that lives only while the stack is applied: the
//! public listener is bound first (so a port in use fails before any work) and accepts
//! nothing until provisioning is done. Connections made meanwhile wait in the backlog.
//! The SDK signs with the server's own admin credentials, so the SigV4 check is the same
//! as for any other admin client.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider::config::Credentials;
use tokio::net::TcpListener;

use crate::cli::ServeAuthorizationServerArgs;
use crate::output_files;
use crate::provision::{self, Target};
use crate::sdk;
use crate::serve::{self, AuthorizationServer, UnauthenticatedAdmin};
use crate::shutdown::Shutdown;
use crate::stack::{self, Stack};
use crate::telemetry;

/// Binds and configures the server and, with `--stack`, provisions it. Ctrl-C or SIGTERM
/// during provisioning stops with an error.
pub(crate) async fn start(
    args: &ServeAuthorizationServerArgs,
    shutdown: Shutdown,
) -> anyhow::Result<(TcpListener, AuthorizationServer)> {
    // A broken stack is refused before the port is taken.
    let stack = args.stack.as_deref().map(stack::load).transpose()?;
    let unauthenticated_admin = if args.allow_unauthenticated_admin {
        UnauthenticatedAdmin::Allowed
    } else {
        UnauthenticatedAdmin::LoopbackOnly
    };
    let listener = serve::bind("authorization-server", args.server.listen).await?;
    let server = serve::configure_authorization_server(
        &args.server,
        &listener,
        telemetry::metrics_handle()?,
        unauthenticated_admin,
    )
    .await?;
    let (Some(stack), Some(stack_path)) = (stack, args.stack.as_deref()) else {
        return Ok((listener, server));
    };
    let out = args.out.clone().unwrap_or_else(|| {
        args.server
            .data_dir
            .data_dir
            .join(DEFAULT_OUTPUTS_FILE_NAME)
    });
    let secret_out = args
        .secret_out
        .clone()
        .unwrap_or_else(|| output_files::default_secret_path(&out));
    let files = OutputFiles {
        outputs: out,
        secret: secret_out,
    };
    tokio::select! {
        applied = apply(&server, &stack, stack_path, &files) => applied?,
        () = shutdown.wait() => anyhow::bail!("interrupted while provisioning the stack"),
    }
    Ok((listener, server))
}

const DEFAULT_OUTPUTS_FILE_NAME: &str = "outputs.json";

struct OutputFiles {
    outputs: PathBuf,
    secret: PathBuf,
}

/// Applies `stack` through a private loopback listener, writes the outputs and the secret,
/// and prints what was done and the outputs (never the secret).
async fn apply(
    server: &AuthorizationServer,
    stack: &Stack,
    stack_path: &Path,
    files: &OutputFiles,
) -> anyhow::Result<()> {
    let private = serve::bind(
        "authorization-server's provisioning listener",
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await?;
    let endpoint = format!(
        "http://{}",
        private
            .local_addr()
            .context("cannot read the bound address")?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let private_server = tokio::spawn(authorization_server::serve(
        private,
        server.state.clone(),
        server.router.clone(),
        async move {
            // A dropped sender also means: stop.
            let _ = stopped.await;
        },
    ));

    println!(
        "provisioning {} on this authorization server ({})",
        stack_path.display(),
        server.public_url
    );
    let client = sdk::local_sdk_client(&endpoint, server.region.clone(), credentials(server));
    // The outputs name the public URL, not the private listener: they are for clients.
    let target = Target::Local {
        endpoint: server.public_url.clone(),
    };
    let applied = provision::apply(&client, stack, &target, &mut |line| println!("  {line}")).await;

    // Its pooled connections closed first, so that the graceful stop has nothing to wait for.
    drop(client);
    let _ = stop.send(());
    private_server
        .await
        .context("the provisioning listener failed")?
        .context("the provisioning listener stopped with an error")?;
    let provisioned = applied?;

    output_files::write_outputs(&files.outputs, &provisioned.outputs)?;
    output_files::write_secret(&files.secret, &provisioned.client_secret)?;
    println!("outputs: {}", files.outputs.display());
    println!("client secret: {} (mode 0600)", files.secret.display());
    println!(
        "{}",
        serde_json::to_string_pretty(&provisioned.outputs).context("cannot print the outputs")?
    );
    Ok(())
}

/// The server's admin credentials; without them the server accepts any signature, so a
/// placeholder key signs.
fn credentials(server: &AuthorizationServer) -> Credentials {
    match &server.admin_credentials {
        Some(admin) => Credentials::new(
            admin.access_key_id.clone(),
            admin.secret_access_key.expose().to_owned(),
            None,
            None,
            "s2s-admin",
        ),
        None => Credentials::new("s2s-local", "s2s-local", None, None, "s2s-local"),
    }
}
