//! Which issuer URLs a verifier accepts: keys fetched over plain http can be replaced by
//! anyone on the network path, so an http issuer is allowed on loopback only, unless the
//! caller opts in.

use jwt_verifier::{BuildError, Verifier};

use crate::helpers::*;

fn build(issuer: &str) -> Result<Verifier, BuildError> {
    Verifier::builder().issuer(issuer).client_id(CLIENT).build()
}

#[test]
fn http_issuer_off_loopback_is_refused() {
    for issuer in [
        "http://cognito:9229/us-east-1_Ab12Cd34E",
        "http://auth.example.com/us-east-1_Ab12Cd34E",
        "http://10.0.0.5:9229/us-east-1_Ab12Cd34E",
        "http://[fe80::1]:9229/us-east-1_Ab12Cd34E",
        "HTTP://0.0.0.0/us-east-1_Ab12Cd34E",
        // Names that merely start like a loopback host are not loopback.
        "http://localhost.evil.example/us-east-1_Ab12Cd34E",
        "http://127.0.0.1.nip.io/us-east-1_Ab12Cd34E",
    ] {
        let err = build(issuer).unwrap_err();
        assert!(
            matches!(&err, BuildError::InsecureIssuer { issuer: i } if issuer.eq_ignore_ascii_case(i)),
            "{issuer}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("plain http") && message.contains("allow_insecure_http"),
            "{message}"
        );
    }
}

#[test]
fn http_issuer_on_loopback_and_https_issuers_are_accepted() {
    for issuer in [
        "http://127.0.0.1:9229/us-east-1_Ab12Cd34E",
        "http://127.8.9.10/us-east-1_Ab12Cd34E",
        "http://localhost:9229/us-east-1_Ab12Cd34E",
        "http://LOCALHOST/us-east-1_Ab12Cd34E",
        "http://[::1]:9229/us-east-1_Ab12Cd34E",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E",
        "https://10.0.0.5/us-east-1_Ab12Cd34E",
    ] {
        build(issuer).unwrap_or_else(|e| panic!("{issuer}: {e}"));
    }
}

#[test]
fn allow_insecure_http_accepts_an_http_issuer_off_loopback() {
    let verifier = Verifier::builder()
        .issuer("http://cognito:9229/us-east-1_Ab12Cd34E")
        .client_id(CLIENT)
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert_eq!(
        verifier.issuers().collect::<Vec<_>>(),
        ["http://cognito:9229/us-east-1_Ab12Cd34E"]
    );
    // Opting out again restores the refusal.
    let err = Verifier::builder()
        .issuer("http://cognito:9229/us-east-1_Ab12Cd34E")
        .client_id(CLIENT)
        .allow_insecure_http(false)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::InsecureIssuer { .. }), "{err:?}");
}
