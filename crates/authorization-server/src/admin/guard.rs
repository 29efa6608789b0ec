//! Who may reach the admin API at all, before any signature: the `Host` must name this
//! server (a loopback name or the public URL's host), so that a web page whose DNS name
//! was rebound to 127.0.0.1 cannot drive it, and — without admin credentials — a browser
//! request from another origin (`Origin` not the server's own) is refused.

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode, Uri, header};

use super::error::AdminError;
use crate::Config;

fn forbidden(message: impl Into<String>) -> AdminError {
    AdminError {
        kind: "ForbiddenException",
        message: message.into(),
        status: StatusCode::FORBIDDEN,
    }
}

/// The host part of an authority (`host`, `host:port`, `[v6]:port`), lower-cased, without
/// a trailing dot.
fn host_of(authority: &str) -> String {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://authority` of the public URL, lower-cased.
fn public_origin(config: &Config) -> String {
    let url = config.public_url.to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let authority = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

/// The request's `Host` (or HTTP/2 `:authority`).
pub(crate) fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// Whether `authority` names this server: a loopback name or the public URL's host.
pub(crate) fn names_this_server(config: &Config, authority: &str) -> bool {
    let host = host_of(authority);
    let public_host = host_of(
        public_origin(config)
            .split_once("://")
            .map_or("", |(_, authority)| authority),
    );
    !host.is_empty() && (is_loopback_name(&host) || host == public_host)
}

/// Refuses a request for another host name, and (without credentials) a cross-origin one.
pub(crate) fn check(config: &Config, headers: &HeaderMap, uri: &Uri) -> Result<(), AdminError> {
    let host = request_host(headers, uri).unwrap_or_default();
    if !names_this_server(config, host) {
        let shown: String = host.chars().take(64).collect();
        return Err(forbidden(format!(
            "Host {shown:?} does not name this server: use a loopback name (localhost, 127.0.0.1, ::1) \
             or the host of the public URL {}",
            config.public_url
        )));
    }
    if config.admin_credentials.is_none() {
        check_origin(config, headers, uri)?;
    }
    Ok(())
}

/// Refuses a browser request from another origin: an `Origin`, when present, must be the
/// public URL's or `http://` plus the request's `Host`. The admin API applies it without
/// credentials; the console's forms (`crate::console`) always.
pub(crate) fn check_origin(
    config: &Config,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), AdminError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = request_host(headers, uri).unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
    let own = public_origin(config);
    let same_host = format!("http://{}", host.to_ascii_lowercase());
    if origin != own && origin != same_host {
        let shown: String = origin.chars().take(64).collect();
        return Err(forbidden(format!(
            "cross-origin request from {shown:?} refused: the admin API without credentials \
             does not answer browser requests from other origins"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("[::1]:9229"), "::1");
        assert_eq!(host_of("LocalHost.:80"), "localhost");
        let config = Config::new("https://auth.example.com");
        for ok in [
            "localhost:1",
            "127.0.0.1:9",
            "[::1]:2",
            "auth.example.com",
            "a.localhost",
        ] {
            assert!(names_this_server(&config, ok), "{ok}");
        }
        for bad in [
            "evil.example:9229",
            "",
            "127.0.0.1.evil.com",
            "auth.example.com.evil",
        ] {
            assert!(!names_this_server(&config, bad), "{bad}");
        }
    }
}
