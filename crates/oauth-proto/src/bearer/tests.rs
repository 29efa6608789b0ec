use proptest::prelude::*;

use super::*;

fn params(challenge: &Challenge) -> Vec<(&str, &str)> {
    challenge
        .params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

#[test]
fn reads_an_insufficient_scope_challenge() {
    let challenge = BearerChallenge::parse(
        r#"Bearer error="insufficient_scope", scope="user-schedule-service/schedule.update""#,
    )
    .unwrap();
    assert_eq!(challenge.error, Some(BearerErrorCode::InsufficientScope));
    assert_eq!(
        challenge.scopes().collect::<Vec<_>>(),
        ["user-schedule-service/schedule.update"]
    );
    assert_eq!(challenge.realm, None);
}

#[test]
fn splits_several_challenges_of_several_schemes() {
    let challenges = parse_challenges(
        r#"Basic realm="a, b", Bearer realm="api",error=invalid_token, error_description="expired, sorry" , Negotiate abc+/==, Digest nonce="x""#,
    );
    let schemes: Vec<_> = challenges.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Basic", "Bearer", "Negotiate", "Digest"]);
    assert_eq!(params(&challenges[0]), [("realm", "a, b")]);
    assert_eq!(
        params(&challenges[1]),
        [
            ("realm", "api"),
            ("error", "invalid_token"),
            ("error_description", "expired, sorry")
        ]
    );
    assert_eq!(challenges[2].token68.as_deref(), Some("abc+/=="));
    assert!(challenges[2].params.is_empty());
    assert_eq!(params(&challenges[3]), [("nonce", "x")]);
}

#[test]
fn reads_odd_but_valid_challenges() {
    let bare = parse_challenges("Bearer");
    assert_eq!(bare.len(), 1);
    assert_eq!(
        BearerChallenge::from_challenge(&bare[0]),
        Some(BearerChallenge::default())
    );
    let odd = BearerChallenge::parse(r#"bearer realm="a \"b\"",error=invalid_token"#).unwrap();
    assert_eq!(odd.realm.as_deref(), Some("a \"b\""));
    assert_eq!(odd.error, Some(BearerErrorCode::InvalidToken));
    assert_eq!(
        BearerChallenge::parse("Bearer  realm = \"x\" ,, scope=svc/a")
            .unwrap()
            .scope
            .as_deref(),
        Some("svc/a")
    );
    assert_eq!(
        BearerChallenge::parse(r#"Bearer error="x_y""#)
            .unwrap()
            .error,
        Some(BearerErrorCode::Other("x_y".to_owned()))
    );
    assert_eq!(BearerChallenge::parse(r#"Basic realm="x""#), None);
    assert_eq!(BearerChallenge::parse(r#"Bearerx error="x""#), None);
    assert_eq!(BearerChallenge::parse(""), None);
}

#[test]
fn a_parameter_belongs_to_its_own_challenge() {
    let challenges =
        parse_challenges(r#"Bearer error="insufficient_scope", Basic realm="x", scope="svc/a""#);
    assert_eq!(challenges.len(), 2);
    assert_eq!(challenges[0].param("scope"), None);
    assert_eq!(challenges[1].param("scope"), Some("svc/a"));
    // A quoted value that looks like a parameter is a value.
    let quoted =
        BearerChallenge::parse(r#"Bearer error_description="error=\"invalid_token\", no""#)
            .unwrap();
    assert_eq!(quoted.error, None);
    assert_eq!(
        quoted.error_description.as_deref(),
        Some(r#"error="invalid_token", no"#)
    );
}

#[test]
fn keeps_what_was_read_before_a_syntax_error() {
    let challenges = parse_challenges("Bearer realm=\"x\", error=\"unterminated");
    assert_eq!(challenges.len(), 1);
    assert_eq!(params(&challenges[0]), [("realm", "x")]);
    assert!(parse_challenges("\"Bearer\"").is_empty());
    assert_eq!(
        parse_challenges("Bearer realm=\"a\u{1}b\", Basic").len(),
        1,
        "a control character ends the reading"
    );
}

#[test]
fn reads_every_header_value() {
    let all = BearerChallenge::from_header_values([
        r#"Basic realm="x""#,
        r#"Bearer error="invalid_token""#,
        r#"Bearer error="insufficient_scope", scope="a b", Bearer realm="r""#,
    ]);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].error, Some(BearerErrorCode::InvalidToken));
    assert_eq!(all[1].scopes().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(all[2].realm.as_deref(), Some("r"));
}

#[test]
fn renders_quoted_and_escaped() {
    assert_eq!(BearerChallenge::default().to_string(), "Bearer");
    let challenge = BearerChallenge {
        realm: Some("api".to_owned()),
        error: Some(BearerErrorCode::InsufficientScope),
        error_description: Some(r#"needs "more" \ less"#.to_owned()),
        error_uri: Some("https://example.com/e".to_owned()),
        scope: Some("svc/a svc/b".to_owned()),
    };
    assert_eq!(
        challenge.to_string(),
        r#"Bearer realm="api", error="insufficient_scope", error_description="needs \"more\" \\ less", error_uri="https://example.com/e", scope="svc/a svc/b""#
    );
    let no_realm = BearerChallenge {
        error: Some(BearerErrorCode::InvalidToken),
        ..BearerChallenge::default()
    };
    assert_eq!(no_realm.to_string(), r#"Bearer error="invalid_token""#);
}

fn quotable() -> impl Strategy<Value = String> {
    // Tab, space, visible ASCII (quotes and backslashes included) and beyond ASCII.
    "[\t -~\u{80}-\u{10FFFF}]{0,24}"
}

fn error_code() -> impl Strategy<Value = BearerErrorCode> {
    prop_oneof![
        Just(BearerErrorCode::InvalidRequest),
        Just(BearerErrorCode::InvalidToken),
        Just(BearerErrorCode::InsufficientScope),
        quotable().prop_map(|code| BearerErrorCode::from(code.as_str())),
    ]
}

prop_compose! {
    fn bearer_challenge()(
        realm in proptest::option::of(quotable()),
        error in proptest::option::of(error_code()),
        error_description in proptest::option::of(quotable()),
        error_uri in proptest::option::of(quotable()),
        scope in proptest::option::of(quotable()),
    ) -> BearerChallenge {
        BearerChallenge { realm, error, error_description, error_uri, scope }
    }
}

proptest! {
    #[test]
    fn a_rendered_challenge_reads_back(challenge in bearer_challenge()) {
        let rendered = challenge.to_string();
        prop_assert_eq!(BearerChallenge::parse(&rendered), Some(challenge.clone()));
        // Also among other challenges.
        let among = format!("Basic realm=\"x\", {rendered}, Negotiate abc==");
        prop_assert_eq!(BearerChallenge::from_header_values([among.as_str()]), vec![challenge]);
    }

    #[test]
    fn any_value_parses_without_panicking(raw in "\\PC{0,64}|[ -~]{0,64}") {
        for challenge in parse_challenges(&raw) {
            if let Some(bearer) = BearerChallenge::from_challenge(&challenge) {
                prop_assert_eq!(BearerChallenge::parse(&bearer.to_string()), Some(bearer));
            }
        }
    }
}
