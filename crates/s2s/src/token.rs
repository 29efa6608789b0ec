//! `s2s token`: one client-credentials token request, exactly as a client sends it.
//! What it prints from the answer (and from the token, with `--decode`) is escaped for
//! the terminal: the answer comes from a server, the token's claims from whoever made it.

use std::time::Duration;

use anyhow::Context as _;
use oauth_proto::{ErrorCode, ErrorResponse, TokenResponse};

use crate::cli::{ClientAuthMethod, TokenArgs, TokenVia};
use crate::inspect;
use crate::terminal::{escape, escape_lines};

/// `s2s token`.
pub(crate) async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let client = &args.client;
    let secret = client.secret.load()?;
    let http = reqwest::Client::builder()
        // A token endpoint never redirects; following one could send the secret elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot set up the HTTP client")?;
    if args.via == TokenVia::GetClientToken {
        return via_get_client_token(&args, &http, secret.expose()).await;
    }
    let scope = client.scopes.join(" ");
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let mut request = http.post(client.token_url.as_str());
    match client.auth {
        ClientAuthMethod::Basic => {
            request = request.basic_auth(&client.client_id, Some(secret.expose()));
        }
        ClientAuthMethod::Post => {
            form.push(("client_id", &client.client_id));
            form.push(("client_secret", secret.expose()));
        }
    }
    let response = request
        .form(&form)
        .send()
        .await
        .with_context(|| format!("cannot reach the token endpoint {}", client.token_url))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .context("cannot read the token endpoint's answer")?;
    if !status.is_success() {
        let error: ErrorResponse = serde_json::from_str(&body).with_context(|| {
            format!(
                "the token endpoint answered {status} without an OAuth error document: {}",
                escape(&body.chars().take(200).collect::<String>())
            )
        })?;
        println!("{}", escape_lines(&pretty(&body)));
        anyhow::bail!(
            "the token endpoint refused the request ({status}): {}{}",
            escape(&error.to_string()),
            hint(&error.error)
        );
    }
    let token: TokenResponse = serde_json::from_str(&body)
        .context("the token endpoint's answer is not a token response")?;
    if args.decode {
        let decoded = inspect::Decoded::parse(&token.access_token)
            .context("the access token is not a JWT")?;
        println!("expires_in: {}s", token.expires_in);
        decoded.print(&oauth_proto::time::SystemClock);
    } else {
        println!("{}", escape_lines(&pretty(&body)));
    }
    Ok(())
}

/// `s2s token --via get-client-token`: Cognito's GetClientToken API, unsigned.
async fn via_get_client_token(
    args: &TokenArgs,
    http: &reqwest::Client,
    secret: &str,
) -> anyhow::Result<()> {
    let client = &args.client;
    let mut body = serde_json::json!({"ClientId": client.client_id, "Secret": secret});
    if !client.scopes.is_empty() {
        body["Scopes"] = serde_json::json!(client.scopes);
    }
    let response = http
        .post(client.token_url.as_str())
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "AWSCognitoIdentityProviderService.GetClientToken",
        )
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("cannot reach the user pools API {}", client.token_url))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .context("cannot read the GetClientToken answer")?;
    let answer: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "GetClientToken answered {status} without JSON: {}",
            escape(&text.chars().take(200).collect::<String>())
        )
    })?;
    if !status.is_success() {
        println!("{}", escape_lines(&pretty(&text)));
        anyhow::bail!(
            "GetClientToken refused the request ({status}): {}: {}",
            escape(answer["__type"].as_str().unwrap_or("unknown error")),
            escape(answer["message"].as_str().unwrap_or_default())
        );
    }
    let result = &answer["ClientAuthenticationResult"];
    let token = result["AccessToken"]
        .as_str()
        .context("the GetClientToken answer has no AccessToken")?;
    if args.decode {
        let decoded = inspect::Decoded::parse(token).context("the access token is not a JWT")?;
        println!("expires_in: {}s", escape(&result["ExpiresIn"].to_string()));
        decoded.print(&oauth_proto::time::SystemClock);
    } else {
        println!("{}", escape_lines(&pretty(&text)));
    }
    Ok(())
}

/// The JSON re-indented, or the text as it came.
fn pretty(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| body.to_owned())
}

/// What usually causes each token-endpoint error.
fn hint(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidClient => {
            " (the client id or the secret is wrong, or the client does not exist)"
        }
        ErrorCode::InvalidScope => {
            " (a requested scope is not in the client's allowed_oauth_scopes, or no resource server defines it)"
        }
        ErrorCode::UnauthorizedClient => {
            " (the client is not allowed the client_credentials flow: see allowed_oauth_flows)"
        }
        ErrorCode::UnsupportedGrantType => " (only grant_type=client_credentials is supported)",
        _ => "",
    }
}
