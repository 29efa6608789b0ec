//! `LambdaConfig` of `CreateUserPool` and `UpdateUserPool`: checked against the Cognito
//! model, stored, and rendered back as `DescribeUserPool` and `ListUserPools` return it.
//!
//! Only `PreTokenGenerationConfig` with `LambdaVersion` `V3_0` changes what this server does
//! (`crate::pretoken` runs it for client-credentials tokens). The other triggers belong to
//! user sign-up and sign-in, which this server does not serve: they are validated, stored
//! and returned so that infrastructure code written for Cognito applies unchanged, and are
//! never invoked.
//!
//! Rules (model `LambdaConfigType`, API reference `PreTokenGenerationVersionConfigType`):
//! - every ARN is 20 to 2048 characters of the model's `ArnType` pattern;
//! - `PreTokenGenerationConfig` needs `LambdaVersion` (`V1_0`, `V2_0`, `V3_0`) and `LambdaArn`;
//!   `CustomSMSSender`, `CustomEmailSender` and `InboundFederation` need `LambdaArn` and
//!   `LambdaVersion` `V1_0`;
//! - `PreTokenGeneration` (the legacy member) and `PreTokenGenerationConfig.LambdaArn`, when
//!   both are given, must be identical; `DescribeUserPool` returns both with the same value;
//! - versions `V2_0` and `V3_0` customise access tokens, which needs the Essentials or Plus
//!   feature plan: on a `LITE` pool → `FeatureUnavailableInTierException`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::AdminError;
use super::validate::{Pattern, Violations};
use crate::store::{LambdaConfig, PreTokenGenerationConfig};

/// The members of `LambdaConfigType` that hold one ARN.
const ARN_MEMBERS: &[&str] = &[
    "PreSignUp",
    "CustomMessage",
    "PostConfirmation",
    "PreAuthentication",
    "PostAuthentication",
    "DefineAuthChallenge",
    "CreateAuthChallenge",
    "VerifyAuthChallengeResponse",
    "PreTokenGeneration",
    "UserMigration",
    "KMSKeyID",
];

/// The members of `LambdaConfigType` that hold `{LambdaVersion, LambdaArn}`, with the
/// versions each allows.
const VERSIONED_MEMBERS: &[(&str, &[&str])] = &[
    ("PreTokenGenerationConfig", &["V1_0", "V2_0", "V3_0"]),
    ("CustomSMSSender", &["V1_0"]),
    ("CustomEmailSender", &["V1_0"]),
    ("InboundFederation", &["V1_0"]),
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Versioned {
    lambda_version: Option<String>,
    lambda_arn: Option<String>,
}

/// Checks a request's `LambdaConfig` (`None` or `{}`: no triggers) for a pool of `tier`,
/// and returns what to store. Unknown members are dropped, as the top-level parser does.
pub(crate) fn check(
    config: Option<&Map<String, Value>>,
    tier: &str,
) -> Result<LambdaConfig, AdminError> {
    let Some(config) = config else {
        return Ok(LambdaConfig::default());
    };
    let mut v = Violations::default();
    let mut stored = LambdaConfig::default();
    for member in ARN_MEMBERS {
        let Some(value) = config.get(*member) else {
            continue;
        };
        let arn = as_string(value, member)?;
        check_arn(&mut v, arn, &format!("LambdaConfig.{member}"));
        stored.other.insert((*member).to_owned(), json!(arn));
    }
    for (member, versions) in VERSIONED_MEMBERS {
        let Some(value) = config.get(*member) else {
            continue;
        };
        let versioned: Versioned =
            serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                AdminError::serialization(format!(
                    "invalid value for member 'LambdaConfig.{member}.{}': {}",
                    e.path(),
                    e.inner()
                ))
            })?;
        let path = format!("LambdaConfig.{member}");
        if let Some(arn) = v.required(&versioned.lambda_arn, &format!("{path}.LambdaArn")) {
            check_arn(&mut v, arn, &format!("{path}.LambdaArn"));
        }
        let version_member = format!("{path}.LambdaVersion");
        v.required(&versioned.lambda_version, &version_member);
        v.one_of(&versioned.lambda_version, &version_member, versions);
        let (Some(lambda_version), Some(lambda_arn)) =
            (versioned.lambda_version, versioned.lambda_arn)
        else {
            continue;
        };
        if *member == "PreTokenGenerationConfig" {
            stored.pre_token_generation = Some(PreTokenGenerationConfig {
                lambda_version,
                lambda_arn,
            });
        } else {
            stored.other.insert(
                (*member).to_owned(),
                json!({ "LambdaVersion": lambda_version, "LambdaArn": lambda_arn }),
            );
        }
    }
    v.finish()?;
    if let (Some(Value::String(legacy)), Some(config)) = (
        stored.other.get("PreTokenGeneration"),
        &stored.pre_token_generation,
    ) && *legacy != config.lambda_arn
    {
        return Err(AdminError::invalid_parameter(
            "PreTokenGeneration and PreTokenGenerationConfig.LambdaArn must have the same value",
        ));
    }
    check_tier(&stored, tier)?;
    Ok(stored)
}

/// Access-token customisation (`V2_0`, `V3_0`) needs the Essentials or Plus feature plan.
pub(crate) fn check_tier(config: &LambdaConfig, tier: &str) -> Result<(), AdminError> {
    match &config.pre_token_generation {
        Some(trigger) if tier == "LITE" && trigger.lambda_version != "V1_0" => Err(AdminError {
            kind: "FeatureUnavailableInTierException",
            message: format!(
                "Pre token generation trigger version {} (access token customization) is \
                     not available in the LITE feature plan: set UserPoolTier to ESSENTIALS or PLUS",
                trigger.lambda_version
            ),
            status: axum::http::StatusCode::BAD_REQUEST,
        }),
        _ => Ok(()),
    }
}

/// `LambdaConfig` as `DescribeUserPool` returns it: the members as stored, with
/// `PreTokenGeneration` set to the `PreTokenGenerationConfig` ARN (the API reference: the
/// two "have the same value").
pub(crate) fn render(config: &LambdaConfig) -> Value {
    let mut out = config.other.clone();
    if let Some(trigger) = &config.pre_token_generation {
        out.insert(
            "PreTokenGenerationConfig".to_owned(),
            json!({ "LambdaVersion": trigger.lambda_version, "LambdaArn": trigger.lambda_arn }),
        );
        out.insert("PreTokenGeneration".to_owned(), json!(trigger.lambda_arn));
    }
    Value::Object(out)
}

fn as_string<'a>(value: &'a Value, member: &str) -> Result<&'a str, AdminError> {
    value.as_str().ok_or_else(|| {
        AdminError::serialization(format!(
            "invalid value for member 'LambdaConfig.{member}': expected a string"
        ))
    })
}

/// The model's `ArnType`: 20 to 2048 characters of
/// `arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?`.
fn check_arn(v: &mut Violations, arn: &str, member: &str) {
    v.string(arn, member, 20, 2048, Pattern::Arn);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:pretoken";

    #[test]
    fn keeps_the_pre_token_trigger_and_the_others_as_given() {
        let stored = check(
            Some(&config(json!({
                "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN},
                "PreSignUp": ARN,
                "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": ARN},
                "Unknown": 1,
            }))),
            "ESSENTIALS",
        )
        .unwrap();
        let trigger = stored.pre_token_generation.clone().unwrap();
        assert!(trigger.runs_for_client_credentials());
        assert_eq!(trigger.lambda_arn, ARN);
        assert_eq!(
            render(&stored),
            json!({
                "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN},
                "PreTokenGeneration": ARN,
                "PreSignUp": ARN,
                "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": ARN},
            })
        );
    }

    #[test]
    fn refuses_what_the_model_refuses() {
        let err = check(
            Some(&config(json!({
                "PreTokenGenerationConfig": {"LambdaVersion": "V4_0", "LambdaArn": "not-an-arn"},
                "PreSignUp": "arn:aws:lambda:us-east-1:notanaccount:function:x",
                "CustomEmailSender": {"LambdaArn": ARN},
            }))),
            "ESSENTIALS",
        )
        .unwrap_err();
        assert_eq!(err.kind, "InvalidParameterException");
        for expected in [
            "lambdaConfig.preTokenGenerationConfig.lambdaVersion",
            "lambdaConfig.preTokenGenerationConfig.lambdaArn",
            "lambdaConfig.preSignUp",
            "lambdaConfig.customEmailSender.lambdaVersion",
        ] {
            assert!(
                err.message.contains(expected),
                "{expected}: {}",
                err.message
            );
        }
        let err = check(
            Some(&config(
                json!({"PreTokenGenerationConfig": {"LambdaVersion": 3}}),
            )),
            "ESSENTIALS",
        )
        .unwrap_err();
        assert_eq!(err.kind, "SerializationException");
    }

    #[test]
    fn the_legacy_member_must_match() {
        let other = "arn:aws:lambda:us-east-1:123456789012:function:other";
        let err = check(
            Some(&config(json!({
                "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN},
                "PreTokenGeneration": other,
            }))),
            "ESSENTIALS",
        )
        .unwrap_err();
        assert_eq!(err.kind, "InvalidParameterException");
        assert!(
            check(
                Some(&config(json!({
                    "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN},
                    "PreTokenGeneration": ARN,
                }))),
                "ESSENTIALS",
            )
            .is_ok()
        );
    }

    #[test]
    fn access_token_customisation_needs_essentials_or_plus() {
        let v3 = config(
            json!({"PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN}}),
        );
        let err = check(Some(&v3), "LITE").unwrap_err();
        assert_eq!(err.kind, "FeatureUnavailableInTierException");
        assert!(check(Some(&v3), "PLUS").is_ok());
        let v1 = config(
            json!({"PreTokenGenerationConfig": {"LambdaVersion": "V1_0", "LambdaArn": ARN}}),
        );
        assert!(check(Some(&v1), "LITE").is_ok());
    }
}
