//! Each rejection asserts its specific error; the checks run in the documented order.

use aws_lc_rs::hmac;
use jwt_verifier::{ScopePolicy, VerifyError};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn accepts_a_valid_cognito_access_token() {
    let app = TestApp::spawn().await;
    let claims = app.verifier.verify(&app.token()).await.unwrap();
    assert_eq!(claims.client_id().as_str(), CLIENT);
    assert_eq!(claims.sub, CLIENT);
    assert_eq!(claims.iss, app.issuer.issuer());
    assert_eq!(claims.exp, START + 3600);
    assert!(claims.has_scope(READ));
    assert_eq!(claims.scopes().len(), 1);
    assert_eq!(app.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn test_issuer_tokens_pass_an_independent_verifier() {
    // jsonwebtoken (test-only) cross-checks that TestIssuer signs standard RS256 JWTs.
    let app = TestApp::spawn().await;
    let jwk = app.issuer.public_jwk();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(&app.token(), &key, &validation).unwrap();
    assert_eq!(data.claims["client_id"], CLIENT);
    assert_eq!(data.header.kid.as_deref(), Some(app.issuer.kid().as_str()));
}

#[tokio::test]
async fn refuses_alg_none() {
    let app = TestApp::spawn().await;
    let header = json!({"kid": app.issuer.kid(), "alg": "none"}).to_string();
    let token = join(header.as_bytes(), app.claims().to_string().as_bytes(), b"");
    let token = token.trim_end_matches('.').to_owned() + ".";
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::UnsupportedAlgorithm(a) if a == "none"),
        "{err:?}"
    );
    assert_eq!(
        app.issuer.jwks_fetches(),
        0,
        "refused before any network call"
    );
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_public_key() {
    let app = TestApp::spawn().await;
    let jwk = app.issuer.public_jwk();
    let header = json!({"kid": jwk.kid, "alg": "HS256"}).to_string();
    let payload = app.claims().to_string();
    let input = join(header.as_bytes(), payload.as_bytes(), b"");
    let input = input.trim_end_matches('.');
    // The classic confusion attack: the RSA public key (as JWK JSON and as the modulus)
    // used as the HMAC secret.
    for secret in [
        serde_json::to_vec(&jwk).unwrap(),
        jwk.n.clone().into_bytes(),
    ] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        let tag = hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        });
        let err = app.verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnsupportedAlgorithm(a) if a == "HS256"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn refuses_an_unknown_kid() {
    let app = TestApp::spawn().await;
    let header = json!({"kid": "not-a-published-kid", "alg": "RS256"});
    let token = app.issuer.token_with_header(&header, &app.claims());
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::UnknownKid(k) if k == "not-a-published-kid"),
        "{err:?}"
    );
}

#[tokio::test]
async fn refuses_a_missing_kid() {
    let app = TestApp::spawn().await;
    let token = app
        .issuer
        .token_with_header(&json!({"alg": "RS256"}), &app.claims());
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::MissingKid)
    ));
}

#[tokio::test]
async fn refuses_header_supplied_keys() {
    let app = TestApp::spawn().await;
    let jwk = serde_json::to_value(app.issuer.public_jwk()).unwrap();
    let header = json!({"kid": app.issuer.kid(), "alg": "RS256", "jwk": jwk});
    let token = app.issuer.token_with_header(&header, &app.claims());
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::UnsupportedHeader("jwk"))
    ));
    let header = json!({"kid": app.issuer.kid(), "alg": "RS256", "jku": "http://127.0.0.1:1/x"});
    let token = app.issuer.token_with_header(&header, &app.claims());
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::UnsupportedHeader("jku"))
    ));
}

#[tokio::test]
async fn refuses_a_tampered_payload() {
    let app = TestApp::spawn().await;
    let (header, _, signature) = split(&app.token());
    // Same shape, more scope: what an attacker would want.
    let mut claims = app.claims();
    claims["scope"] = json!(format!("{READ} {UPDATE}"));
    let token = join(&header, claims.to_string().as_bytes(), &signature);
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::InvalidSignature), "{err:?}");
}

#[tokio::test]
async fn refuses_a_tampered_signature() {
    let app = TestApp::spawn().await;
    let (header, payload, mut signature) = split(&app.token());
    signature[100] ^= 0x01;
    let token = join(&header, &payload, &signature);
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::InvalidSignature)
    ));
    // A truncated signature too.
    signature.truncate(255);
    let token = join(&header, &payload, &signature);
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::InvalidSignature)
    ));
}

#[tokio::test]
async fn checks_the_signature_before_any_claim() {
    let app = TestApp::spawn().await;
    // Expired, wrong token_use and exp as a string: all invisible behind a bad signature.
    let mut claims = app.claims();
    claims["exp"] = json!("never");
    claims["token_use"] = json!("id");
    let (header, _, signature) = split(&app.token());
    let token = join(&header, claims.to_string().as_bytes(), &signature);
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::InvalidSignature)
    ));
}

#[tokio::test]
async fn refuses_an_expired_token_after_the_leeway() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["exp"] = json!(app.now() - 30);
    let within_leeway = app.issuer.token(&claims);
    assert!(app.verifier.verify(&within_leeway).await.is_ok());

    claims["exp"] = json!(app.now() - 60);
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(
        matches!(err, VerifyError::Expired { leeway: 60, .. }),
        "{err:?}"
    );

    // The same valid token expires when the clock moves.
    let token = app.token();
    app.clock.advance(std::time::Duration::from_secs(3600 + 60));
    assert!(matches!(
        app.verifier.verify(&token).await,
        Err(VerifyError::Expired { .. })
    ));
}

#[tokio::test]
async fn refuses_a_token_not_yet_valid() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["nbf"] = json!(app.now() + 120);
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::NotYetValid { .. }), "{err:?}");
    claims["nbf"] = json!(app.now() + 30);
    assert!(
        app.verifier
            .verify(&app.issuer.token(&claims))
            .await
            .is_ok()
    );

    let mut claims = app.claims();
    claims["iat"] = json!(app.now() + 120);
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::IssuedInFuture { .. }), "{err:?}");
}

#[tokio::test]
async fn refuses_a_wrong_issuer_before_any_network_call() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other1234");
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VerifyError::UnknownIssuer(i) if i.ends_with("eu-west-1_Other1234")),
        "{err:?}"
    );
    // A prefix or suffix of the configured issuer is another issuer.
    claims["iss"] = json!(format!("{}/", app.issuer.issuer()));
    assert!(matches!(
        app.verifier.verify(&app.issuer.token(&claims)).await,
        Err(VerifyError::UnknownIssuer(_))
    ));
    assert_eq!(app.issuer.jwks_fetches(), 0);

    let mut claims = app.claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert!(matches!(
        app.verifier.verify(&app.issuer.token(&claims)).await,
        Err(VerifyError::InvalidIssuer)
    ));
}

#[tokio::test]
async fn refuses_an_id_token() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["token_use"] = json!("id");
    claims["aud"] = json!(CLIENT);
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidTokenUse(u) if u == "id"),
        "{err:?}"
    );
}

#[tokio::test]
async fn refuses_a_wrong_client_id() {
    let app = TestApp::spawn().await;
    let token = app
        .issuer
        .access_token("26cb2c60kq7nbmas7rbme9b6pp", [READ]);
    let err = app.verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidClientId(c) if c == "26cb2c60kq7nbmas7rbme9b6pp"),
        "{err:?}"
    );

    let mut claims = app.claims();
    claims.as_object_mut().unwrap().remove("client_id");
    assert!(matches!(
        app.verifier.verify(&app.issuer.token(&claims)).await,
        Err(VerifyError::InvalidClientId(_))
    ));
}

#[tokio::test]
async fn allow_any_client_id_is_explicit_and_still_checks_the_claim() {
    let app = TestApp::spawn_with(|b| b.allow_any_client_id()).await;
    let token = app
        .issuer
        .access_token("26cb2c60kq7nbmas7rbme9b6pp", [READ]);
    assert!(app.verifier.verify(&token).await.is_ok());
    let mut claims = app.claims();
    claims["client_id"] = json!(42);
    assert!(matches!(
        app.verifier.verify(&app.issuer.token(&claims)).await,
        Err(VerifyError::InvalidClientId(_))
    ));
}

#[tokio::test]
async fn refuses_a_missing_exp() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims.as_object_mut().unwrap().remove("exp");
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::MissingClaim("exp")), "{err:?}");
}

#[tokio::test]
async fn refuses_exp_as_a_string() {
    // GHSA-h395-gr6q-cpjc: a mistyped exp must not be skipped.
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["exp"] = json!((app.now() + 3600).to_string());
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::InvalidClaim("exp")), "{err:?}");

    let mut claims = app.claims();
    claims["nbf"] = json!("0");
    assert!(matches!(
        app.verifier.verify(&app.issuer.token(&claims)).await,
        Err(VerifyError::InvalidClaim("nbf"))
    ));
}

#[tokio::test]
async fn refuses_a_missing_scope() {
    let app = TestApp::spawn().await;
    let token = app.token();
    let policy = ScopePolicy::all_of([READ, UPDATE]);
    let err = app.verifier.verify_with(&token, &policy).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::InsufficientScope { required, .. } if *required == format!("{READ} {UPDATE}")),
        "{err:?}"
    );
    assert!(
        app.verifier
            .verify_with(&token, &ScopePolicy::any_of([READ, UPDATE]))
            .await
            .is_ok()
    );
    assert!(
        app.verifier
            .verify_with(&token, &ScopePolicy::all_of([READ]))
            .await
            .is_ok()
    );

    let mut claims = app.claims();
    claims.as_object_mut().unwrap().remove("scope");
    let no_scope = app.issuer.token(&claims);
    assert!(
        app.verifier
            .verify(&no_scope)
            .await
            .unwrap()
            .scopes()
            .is_empty()
    );
    assert!(matches!(
        app.verifier
            .verify_with(&no_scope, &ScopePolicy::all_of([READ]))
            .await,
        Err(VerifyError::InsufficientScope { .. })
    ));
}

#[tokio::test]
async fn refuses_scope_look_alikes() {
    let app = TestApp::spawn().await;
    let policy = ScopePolicy::all_of([READ]);
    for granted in [
        "user-schedule-service/schedule.read-all",
        "user-schedule-service/schedule.rea",
        "user-schedule-service/schedule",
        "user-schedule-service",
        "other-service/schedule.read",
        "schedule.read",
        "https://user-schedule-service/schedule.read",
        "user-schedule-service/schedule.read/x",
        "USER-SCHEDULE-SERVICE/schedule.read",
    ] {
        let token = app.issuer.access_token(CLIENT, [granted]);
        let err = app.verifier.verify_with(&token, &policy).await.unwrap_err();
        assert!(
            matches!(err, VerifyError::InsufficientScope { .. }),
            "{granted}: {err:?}"
        );
    }
    // An identifier that contains '/' works when compared whole.
    let url_scope = "https://api.example.com/v1/schedule.read";
    let token = app.issuer.access_token(CLIENT, [url_scope]);
    assert!(
        app.verifier
            .verify_with(&token, &ScopePolicy::all_of([url_scope]))
            .await
            .is_ok()
    );
    assert!(
        app.verifier
            .verify_with(&token, &ScopePolicy::all_of(["v1/schedule.read"]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn refuses_an_oversized_token() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["padding"] = json!("x".repeat(9000));
    let err = app
        .verifier
        .verify(&app.issuer.token(&claims))
        .await
        .unwrap_err();
    assert!(
        matches!(err, VerifyError::TooLarge { limit: 8192, .. }),
        "{err:?}"
    );
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn refuses_garbage() {
    let app = TestApp::spawn().await;
    let valid = app.token();
    let (_, payload_b64) = valid.split_once('.').unwrap();
    let garbage = [
        "".to_owned(),
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        "a.b.c.d".to_owned(),
        "...".to_owned(),
        "Bearer x.y.z".to_owned(),
        format!("{valid}.extra"),
        format!("e30.{payload_b64}"), // header `{}`: no alg
        "\u{0}\u{1}\u{2}".to_owned(),
        "ey!!.ey!!.ey!!".to_owned(),
    ];
    for g in &garbage {
        let err = app.verifier.verify(g).await.unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::Malformed(_) | VerifyError::UnsupportedAlgorithm(_)
            ),
            "{g:?}: {err:?}"
        );
    }
    // The ones that are not even three base64url JSON parts are `Malformed`.
    for g in ["", "garbage", "a.b.c", "a.b.c.d", "..."] {
        assert!(
            matches!(app.verifier.verify(g).await, Err(VerifyError::Malformed(_))),
            "{g:?}"
        );
    }
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn error_messages_never_contain_the_token() {
    let app = TestApp::spawn().await;
    let mut claims = app.claims();
    claims["token_use"] = json!("id");
    let token = app.issuer.token(&claims);
    let err = app.verifier.verify(&token).await.unwrap_err();
    let (_, payload, signature) = {
        let mut p = token.split('.');
        (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
    };
    for text in [
        err.to_string(),
        format!("{err:?}"),
        err.description().to_owned(),
    ] {
        assert!(
            !text.contains(payload) && !text.contains(signature),
            "{text}"
        );
    }
}

#[tokio::test]
async fn builder_scopes_are_required_on_every_token_cached_or_not() {
    let app = TestApp::spawn_with(|b| b.scope(READ).scope(UPDATE).token_cache(16)).await;
    let read_only = app.token();
    for _ in 0..2 {
        assert!(matches!(
            app.verifier.verify(&read_only).await,
            Err(VerifyError::InsufficientScope { .. })
        ));
    }
    let both = app.issuer.access_token(CLIENT, [READ, UPDATE]);
    for _ in 0..2 {
        assert!(app.verifier.verify(&both).await.is_ok());
    }
    assert!(matches!(
        app.verifier
            .verify_with(&both, &ScopePolicy::all_of(["admin/all"]))
            .await,
        Err(VerifyError::InsufficientScope { .. })
    ));
}
