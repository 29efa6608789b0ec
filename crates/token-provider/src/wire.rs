//! The token endpoint on the wire: the request a client-credentials grant sends
//! (RFC 6749 §4.4.2, client authentication §2.3.1) and the reading of its answer
//! (§5.1 token, §5.2 error).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use oauth_proto::{ClientId, ClientSecret, ErrorResponse, Scopes};

use crate::error::{BuildError, TokenError};
use crate::http::{HttpRequest, HttpResponse};
use crate::token::{AccessToken, unverified_scope_claim};

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic base64(client_id ":" client_secret)`.
    ///
    /// The id and secret are joined as they are, exactly as Cognito's documentation shows
    /// (`djc98u3jiedmi283eu928` / `abcdef01234567890` →
    /// `Basic ZGpjOTh1M2ppZWRtaTI4M2V1OTI4OmFiY2RlZjAxMjM0NTY3ODkw`). RFC 6749 §2.3.1
    /// asks to form-encode both first; for Cognito's alphabet (`[\w+]`) that differs only
    /// when a custom secret holds `+`, and Cognito documents the raw form, so raw it is.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// Not the token endpoint but Cognito's `GetClientToken` API: the token URL is the
    /// user pools API endpoint (`https://cognito-idp.<region>.amazonaws.com/`, or the local
    /// server's `/`), the id, secret and scopes go in an AWS JSON 1.1 body, unsigned (IAM
    /// is not evaluated for it). For app clients with the `ALLOW_CLIENT_TOKEN_AUTH` flow;
    /// the pool needs no domain. The token is the one the token endpoint would issue.
    GetClientToken,
}

/// The `X-Amz-Target` of Cognito's `GetClientToken`.
const GET_CLIENT_TOKEN_TARGET: &str = "AWSCognitoIdentityProviderService.GetClientToken";

/// The token request of one client, built once: every refresh sends a copy.
pub(crate) struct TokenEndpoint {
    uri: http::Uri,
    /// `Basic …`, marked sensitive, for [`ClientAuth::Basic`].
    basic_header: Option<HeaderValue>,
    /// The form body (or, for [`ClientAuth::GetClientToken`], the JSON body). Holds the
    /// secret unless the client uses [`ClientAuth::Basic`].
    form: Vec<u8>,
    /// Requests go to Cognito's `GetClientToken` API.
    api: bool,
}

impl TokenEndpoint {
    /// Encodes the credentials and the form body once, so a refresh only copies them.
    pub(crate) fn new(
        uri: http::Uri,
        client_id: &ClientId,
        secret: &ClientSecret,
        auth: ClientAuth,
        scopes: Option<&Scopes>,
    ) -> Result<Self, BuildError> {
        if auth == ClientAuth::GetClientToken {
            let mut body = serde_json::json!({
                "ClientId": client_id.as_str(),
                "Secret": secret.expose(),
            });
            if let Some(scopes) = scopes {
                body["Scopes"] = scopes.iter().map(|s| s.as_str()).collect();
            }
            return Ok(Self {
                uri,
                basic_header: None,
                form: body.to_string().into_bytes(),
                api: true,
            });
        }
        let scope = scopes.map(ToString::to_string);
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let basic_header = match auth {
            ClientAuth::Basic => {
                let credentials = format!("{}:{}", client_id.as_str(), secret.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                let mut value =
                    HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| {
                        BuildError::InvalidSetting {
                            name: "client_id",
                            problem: "must be usable in an http header",
                        }
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            ClientAuth::Post | ClientAuth::GetClientToken => {
                form.push(("client_id", client_id.as_str()));
                form.push(("client_secret", secret.expose()));
                None
            }
        };
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        let form = serde_urlencoded::to_string(&form)
            .map_err(|_| BuildError::InvalidSetting {
                name: "scopes",
                problem: "must be form-encodable",
            })?
            .into_bytes();
        Ok(Self {
            uri,
            basic_header,
            form,
            api: false,
        })
    }

    /// A new copy of the token request.
    pub(crate) fn request(&self) -> HttpRequest {
        let mut request = http::Request::new(self.form.clone());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        if self.api {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            headers.insert(
                "x-amz-target",
                HeaderValue::from_static(GET_CLIENT_TOKEN_TARGET),
            );
            return request;
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(basic) = &self.basic_header {
            headers.insert(AUTHORIZATION, basic.clone());
        }
        request
    }

    /// Reads the answer to [`Self::request`].
    pub(crate) fn parse_response(
        &self,
        response: &HttpResponse,
        sent_at: SystemTime,
    ) -> Result<AccessToken, TokenError> {
        if self.api {
            parse_api_response(response, sent_at)
        } else {
            parse_response(response, sent_at)
        }
    }
}

/// Reads a `GetClientToken` answer: `{"ClientAuthenticationResult": {AccessToken,
/// ExpiresIn, TokenType}}`, or an AWS error `{"__type", "message"}`, whose exception name
/// becomes the error code (`NotAuthorizedException` for a wrong secret).
fn parse_api_response(
    response: &HttpResponse,
    sent_at: SystemTime,
) -> Result<AccessToken, TokenError> {
    let status = response.status().as_u16();
    let json: Option<serde_json::Value> = serde_json::from_slice(response.body()).ok();
    if !response.status().is_success() {
        let kind = json
            .as_ref()
            .and_then(|j| j.get("__type")?.as_str())
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned());
        return match kind {
            Some(kind) if (400..=499).contains(&status) && kind != "TooManyRequestsException" => {
                let description = json
                    .as_ref()
                    .and_then(|j| j.get("message")?.as_str())
                    .map(|m| m.chars().filter(|c| !c.is_control()).take(256).collect());
                Err(TokenError::Oauth {
                    code: oauth_proto::ErrorCode::Other(kind),
                    description,
                    status,
                })
            }
            _ => Err(parse_error(response)),
        };
    }
    let result = json
        .as_ref()
        .and_then(|j| j.get("ClientAuthenticationResult"))
        .ok_or_else(|| {
            TokenError::InvalidResponse(format!(
                "http {status} body has no ClientAuthenticationResult"
            ))
        })?;
    let body = serde_json::json!({
        "access_token": result.get("AccessToken"),
        "expires_in": result.get("ExpiresIn"),
        "token_type": result.get("TokenType"),
    });
    let mut translated = http::Response::new(body.to_string().into_bytes());
    *translated.status_mut() = response.status();
    parse_response(&translated, sent_at)
}

/// Reads a token endpoint answer. The body is never copied into an error: it may hold
/// a token.
pub(crate) fn parse_response(
    response: &HttpResponse,
    sent_at: SystemTime,
) -> Result<AccessToken, TokenError> {
    let status = response.status();
    if !status.is_success() {
        return Err(parse_error(response));
    }
    #[derive(serde::Deserialize)]
    struct Body {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        token_type: Option<String>,
        scope: Option<String>,
    }
    let body: Body = serde_json::from_slice(response.body()).map_err(|e| {
        TokenError::InvalidResponse(format!(
            "http {} body is not a json token response (line {}, column {})",
            status.as_u16(),
            e.line(),
            e.column()
        ))
    })?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::InvalidResponse("no access_token".to_owned()))?;
    let expires_in = match body.expires_in {
        None => return Err(TokenError::InvalidResponse("no expires_in".to_owned())),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(seconds) if seconds > 0 => seconds.unsigned_abs(),
            _ => {
                return Err(TokenError::InvalidResponse(format!(
                    "expires_in {n} is not a positive whole number of seconds"
                )));
            }
        },
        Some(_) => {
            return Err(TokenError::InvalidResponse(
                "expires_in is not a number".to_owned(),
            ));
        }
    };
    match body.token_type.as_deref() {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        // The value is not echoed: a confused server may put anything there.
        Some(_) => {
            return Err(TokenError::InvalidResponse(
                "token_type is not Bearer".to_owned(),
            ));
        }
        None => return Err(TokenError::InvalidResponse("no token_type".to_owned())),
    }
    let expires_at = sent_at
        .checked_add(Duration::from_secs(expires_in))
        .filter(|_| expires_in <= 10 * 365 * 24 * 3600)
        .ok_or_else(|| {
            TokenError::InvalidResponse(format!("expires_in {expires_in} is beyond ten years"))
        })?;
    let scopes = body
        .scope
        .and_then(|s| s.parse::<Scopes>().ok())
        .or_else(|| unverified_scope_claim(&access_token));
    Ok(AccessToken::new(access_token, expires_at, scopes))
}

fn parse_error(response: &HttpResponse) -> TokenError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // RFC 6749 §5.2 errors come with 400 (or 401 after Basic authentication). 429 and
    // 5xx are transient whatever their body says.
    if (400..=499).contains(&status)
        && status != 429
        && let Ok(oauth) = serde_json::from_slice::<ErrorResponse>(response.body())
    {
        let description = oauth.error_description.map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect::<String>()
        });
        return TokenError::Oauth {
            code: oauth.error,
            description,
            status,
        };
    }
    TokenError::Status {
        status,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn get_client_token_sends_json_and_reads_the_result() {
        let scopes: Scopes = "a/read b/write".parse().unwrap();
        let endpoint = TokenEndpoint::new(
            "http://127.0.0.1:9229/".parse().unwrap(),
            &ClientId::parse("client1").unwrap(),
            &ClientSecret::new("s3cret"),
            ClientAuth::GetClientToken,
            Some(&scopes),
        )
        .unwrap();
        let request = endpoint.request();
        assert_eq!(
            request.headers()["x-amz-target"],
            "AWSCognitoIdentityProviderService.GetClientToken"
        );
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/x-amz-json-1.1"
        );
        assert!(request.headers().get(AUTHORIZATION).is_none());
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ClientId": "client1", "Secret": "s3cret", "Scopes": ["a/read", "b/write"]})
        );
        let sent = at(1_000);
        let token = endpoint
            .parse_response(
                &response(
                    200,
                    r#"{"ClientAuthenticationResult":{"AccessToken":"x.y.z","ExpiresIn":3600,"TokenType":"Bearer"}}"#,
                ),
                sent,
            )
            .unwrap();
        assert_eq!(token.expires_at(), at(4_600));
        match endpoint.parse_response(
            &response(
                400,
                r#"{"__type":"NotAuthorizedException","message":"Unable to verify secret"}"#,
            ),
            sent,
        ) {
            Err(TokenError::Oauth { code, status, .. }) => {
                assert_eq!(code.as_str(), "NotAuthorizedException");
                assert_eq!(status, 400);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            endpoint.parse_response(&response(200, "{}"), sent),
            Err(TokenError::InvalidResponse(_))
        ));
        assert!(matches!(
            endpoint.parse_response(&response(500, "{}"), sent),
            Err(TokenError::Status { status: 500, .. })
        ));
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn parses_a_cognito_response() {
        let token = parse_response(
            &response(
                200,
                r#"{"access_token":"abc","expires_in":3600,"token_type":"Bearer"}"#,
            ),
            at(1000),
        )
        .unwrap();
        assert_eq!(token.secret(), "abc");
        assert_eq!(token.expires_at(), at(4600));
        assert!(token.scopes().is_none());
    }

    #[test]
    fn refuses_unusable_responses_without_panicking() {
        let cases = [
            (
                r#"{"expires_in":3600,"token_type":"Bearer"}"#,
                "no access_token",
            ),
            (
                r#"{"access_token":"","expires_in":3600,"token_type":"Bearer"}"#,
                "no access_token",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":0,"token_type":"Bearer"}"#,
                "expires_in 0",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":-5,"token_type":"Bearer"}"#,
                "expires_in -5",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":1.5,"token_type":"Bearer"}"#,
                "expires_in 1.5",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":"3600","token_type":"Bearer"}"#,
                "not a number",
            ),
            (
                r#"{"access_token":"SECRET","token_type":"Bearer"}"#,
                "no expires_in",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":3600}"#,
                "no token_type",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":3600,"token_type":"mac"}"#,
                "not Bearer",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":9223372036854775807,"token_type":"Bearer"}"#,
                "ten years",
            ),
            (r#"<html>SECRET</html>"#, "not a json"),
            (r#"["SECRET"]"#, "not a json"),
        ];
        for (body, expected) in cases {
            let error = parse_response(&response(200, body), at(0)).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, TokenError::InvalidResponse(_)),
                "{body}: {error:?}"
            );
            assert!(message.contains(expected), "{body}: {message}");
            assert!(!message.contains("SECRET"), "{message}");
        }
    }

    #[test]
    fn reads_oauth_errors_and_statuses() {
        let error = parse_response(
            &response(
                400,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
            ),
            at(0),
        )
        .unwrap_err();
        assert!(matches!(
            &error,
            TokenError::Oauth { code: oauth_proto::ErrorCode::InvalidClient, description: Some(d), status: 400 } if d == "bad secret"
        ));
        assert!(!error.is_transient());

        let error =
            parse_response(&response(401, r#"{"error":"invalid_client"}"#), at(0)).unwrap_err();
        assert!(matches!(error, TokenError::Oauth { status: 401, .. }));

        for status in [500, 502, 503, 429] {
            let error = parse_response(
                &response(status, r#"{"error":"temporarily_unavailable"}"#),
                at(0),
            )
            .unwrap_err();
            assert!(matches!(error, TokenError::Status { .. }), "{status}");
            assert!(error.is_transient(), "{status}");
        }
        for status in [301, 302, 307, 400, 404] {
            let error = parse_response(&response(status, "nope"), at(0)).unwrap_err();
            assert!(matches!(error, TokenError::Status { .. }), "{status}");
            assert!(!error.is_transient(), "{status}");
        }
        let throttled = http::Response::builder()
            .status(429)
            .header(RETRY_AFTER, "7")
            .body(Vec::new())
            .unwrap();
        assert!(matches!(
            parse_response(&throttled, at(0)).unwrap_err(),
            TokenError::Status { status: 429, retry_after: Some(d) } if d == Duration::from_secs(7)
        ));
    }

    #[test]
    fn basic_header_matches_cognito_docs() {
        let endpoint = TokenEndpoint::new(
            "https://auth.example.com/oauth2/token".parse().unwrap(),
            &ClientId::parse("djc98u3jiedmi283eu928").unwrap(),
            &ClientSecret::new("abcdef01234567890"),
            ClientAuth::Basic,
            None,
        )
        .unwrap();
        let request = endpoint.request();
        assert_eq!(
            request.headers()[AUTHORIZATION],
            "Basic ZGpjOTh1M2ppZWRtaTI4M2V1OTI4OmFiY2RlZjAxMjM0NTY3ODkw"
        );
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(request.body(), b"grant_type=client_credentials");
    }

    proptest::proptest! {
        #[test]
        fn any_answer_parses_without_panicking(
            status in 100_u16..600,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let response = http::Response::builder().status(status).body(body).unwrap();
            let _ = parse_response(&response, at(0));
        }

        #[test]
        fn any_json_token_response_parses_without_panicking(
            token in proptest::option::of(".{0,20}"),
            expires_in in proptest::option::of(proptest::num::i64::ANY),
            kind in proptest::option::of("[a-zA-Z]{0,8}"),
        ) {
            let body = serde_json::json!({
                "access_token": token,
                "expires_in": expires_in,
                "token_type": kind,
            });
            let response = response(200, &body.to_string());
            match parse_response(&response, at(0)) {
                Ok(parsed) => {
                    proptest::prop_assert!(expires_in.unwrap_or(0) > 0);
                    proptest::prop_assert!(!parsed.secret().is_empty());
                }
                Err(error) => {
                    let is_invalid = matches!(error, TokenError::InvalidResponse(_));
                    proptest::prop_assert!(is_invalid);
                }
            }
        }
    }
}
