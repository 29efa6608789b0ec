//! A pool's pre token generation trigger: the `V3_0` configuration of a stack's
//! `[user_pool.pre_token_generation]`, and bringing an existing pool's trigger in line
//! with it (set, changed or removed) without touching its other settings.

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{
    LambdaConfigType, PreTokenGenerationLambdaVersionType, PreTokenGenerationVersionConfigType,
};

use super::Outcome;
use crate::sdk::sdk_error;

/// The `V3_0` pre token generation trigger of `arn`: the version Cognito runs for
/// client-credentials tokens.
pub(super) fn pre_token_trigger(arn: &str) -> anyhow::Result<PreTokenGenerationVersionConfigType> {
    PreTokenGenerationVersionConfigType::builder()
        .lambda_version(PreTokenGenerationLambdaVersionType::V30)
        .lambda_arn(arn)
        .build()
        .context("cannot build the pre token generation trigger")
}

/// Makes the pool's pre token generation trigger `trigger`: sets or changes it, or removes
/// it when the stack has none. A trigger left behind by a stack that dropped it would still
/// run (and, under `s2s up` without its `local_url`, refuse every token). `UpdateUserPool`
/// resets every member it is not given, so the pool's current settings are carried over
/// from `DescribeUserPool`, with its other Lambda triggers.
pub(super) async fn ensure_trigger(
    client: &cognito::Client,
    pool_id: &str,
    trigger: Option<&PreTokenGenerationVersionConfigType>,
) -> anyhow::Result<Outcome> {
    let described = client
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot describe the user pool")?;
    let pool = described
        .user_pool()
        .context("the described user pool is empty")?;
    let mut lambda_config = pool
        .lambda_config()
        .cloned()
        .unwrap_or_else(|| LambdaConfigType::builder().build());
    // The legacy member names the same function as the config (Cognito returns both), or
    // none when there is no trigger.
    let legacy = trigger.map(|t| t.lambda_arn().to_owned());
    if lambda_config.pre_token_generation_config.as_ref() == trigger
        && lambda_config.pre_token_generation == legacy
    {
        return Ok(Outcome::Unchanged);
    }
    lambda_config.pre_token_generation_config = trigger.cloned();
    lambda_config.pre_token_generation = legacy;
    client
        .update_user_pool()
        .user_pool_id(pool_id)
        .set_pool_name(pool.name().map(str::to_owned))
        .set_lambda_config(Some(lambda_config))
        .set_policies(pool.policies().cloned())
        .set_deletion_protection(pool.deletion_protection().cloned())
        .set_auto_verified_attributes(
            Some(pool.auto_verified_attributes().to_vec()).filter(|a| !a.is_empty()),
        )
        .set_sms_verification_message(pool.sms_verification_message().map(str::to_owned))
        .set_email_verification_message(pool.email_verification_message().map(str::to_owned))
        .set_email_verification_subject(pool.email_verification_subject().map(str::to_owned))
        .set_verification_message_template(pool.verification_message_template().cloned())
        .set_sms_authentication_message(pool.sms_authentication_message().map(str::to_owned))
        .set_user_attribute_update_settings(pool.user_attribute_update_settings().cloned())
        .set_mfa_configuration(pool.mfa_configuration().cloned())
        .set_device_configuration(pool.device_configuration().cloned())
        .set_email_configuration(pool.email_configuration().cloned())
        .set_sms_configuration(pool.sms_configuration().cloned())
        .set_user_pool_tags(pool.user_pool_tags().cloned())
        .set_admin_create_user_config(pool.admin_create_user_config().cloned())
        .set_user_pool_add_ons(pool.user_pool_add_ons().cloned())
        .set_account_recovery_setting(pool.account_recovery_setting().cloned())
        .set_user_pool_tier(pool.user_pool_tier().cloned())
        .send()
        .await
        .map_err(sdk_error)
        .context("cannot set the pre token generation trigger (UpdateUserPool)")?;
    Ok(Outcome::Updated)
}
