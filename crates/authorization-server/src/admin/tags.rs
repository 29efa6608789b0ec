//! TagResource, UntagResource, ListTagsForResource: the tags of a user pool, by its ARN.
//!
//! They are the pool's `UserPoolTags` (one place, so `DescribeUserPool`, `UpdateUserPool`
//! and these operations always agree). Cognito's limits: at most 50 tags per pool, keys of
//! 1–128 and values of 0–256 characters from `[\p{L}\p{Z}\p{N}_.:/=+\-@]`. Tagging does
//! not change the pool's `LastModifiedDate`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::pools::{arn, existing};
use super::validate::{Pattern, Violations, parse};
use crate::AppState;
use crate::store::UserPoolRecord;

/// Tags a user pool can carry.
pub(crate) const MAX_TAGS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

/// Sizes and patterns of a tag map (`UserPoolTags` or `Tags`).
pub(crate) fn check_tags(v: &mut Violations, tags: &BTreeMap<String, String>, member: &str) {
    for (key, value) in tags {
        v.string(key, &format!("{member}.key"), 1, 128, Pattern::Tag);
        v.string(value, &format!("{member}.value"), 0, 256, Pattern::Tag);
    }
}

/// The pool named by a user-pool ARN of this server, or the exception Cognito answers.
async fn pool_of(state: &AppState, resource_arn: &str) -> Result<UserPoolRecord, AdminError> {
    let pool_id = resource_arn
        .strip_prefix("arn:aws:cognito-idp:")
        .and_then(|rest| rest.split_once(":userpool/"))
        .map(|(_, id)| id)
        .filter(|id| arn(id) == resource_arn)
        .ok_or_else(|| {
            let shown: String = resource_arn.chars().take(128).collect();
            AdminError::invalid_parameter(format!(
                "Invalid ResourceArn {shown}: expected arn:aws:cognito-idp:<region>:<account>:userpool/<user pool id>"
            ))
        })?;
    existing(state, pool_id).await
}

fn check_arn(v: &mut Violations, resource_arn: &Option<String>) -> String {
    v.required(resource_arn, "ResourceArn")
        .map(|arn| {
            v.string(arn, "ResourceArn", 20, 2048, Pattern::Text);
            arn.clone()
        })
        .unwrap_or_default()
}

fn tags_of(pool: &UserPoolRecord) -> BTreeMap<String, String> {
    pool.settings
        .get("UserPoolTags")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default()
}

async fn store_tags(
    state: &AppState,
    mut pool: UserPoolRecord,
    tags: BTreeMap<String, String>,
) -> Result<(), AdminError> {
    pool.settings.insert("UserPoolTags".to_owned(), json!(tags));
    if !state.store().update_user_pool(&pool).await? {
        return Err(AdminError::pool_not_found(&pool.id));
    }
    Ok(())
}

/// `TagResource`: adds tags, replacing the values of keys already there.
pub(crate) async fn tag(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "TagResource", &["ResourceArn", "Tags"])?;
    let mut v = Violations::default();
    let resource_arn = check_arn(&mut v, &request.resource_arn);
    let new_tags = request.tags.unwrap_or_default();
    check_tags(&mut v, &new_tags, "Tags");
    v.finish()?;
    let pool = pool_of(state, &resource_arn).await?;
    let mut tags = tags_of(&pool);
    tags.extend(new_tags);
    if tags.len() > MAX_TAGS {
        return Err(AdminError::invalid_parameter(format!(
            "A user pool can have at most {MAX_TAGS} tags; this request would leave {}.",
            tags.len()
        )));
    }
    store_tags(state, pool, tags).await?;
    Ok(json!({}))
}

/// `UntagResource`: removes the tags with these keys (absent keys are not an error).
pub(crate) async fn untag(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "UntagResource", &["ResourceArn", "TagKeys"])?;
    let mut v = Violations::default();
    let resource_arn = check_arn(&mut v, &request.resource_arn);
    v.list(
        &request.tag_keys,
        "TagKeys",
        usize::MAX,
        1,
        128,
        Pattern::Tag,
    );
    v.finish()?;
    let pool = pool_of(state, &resource_arn).await?;
    let mut tags = tags_of(&pool);
    for key in request.tag_keys.iter().flatten() {
        tags.remove(key);
    }
    store_tags(state, pool, tags).await?;
    Ok(json!({}))
}

/// `ListTagsForResource`: `{"Tags": {...}}`.
pub(crate) async fn list(state: &AppState, body: &[u8]) -> Result<Value, AdminError> {
    let (request, _): (Request, _) = parse(body, "ListTagsForResource", &["ResourceArn"])?;
    let mut v = Violations::default();
    let resource_arn = check_arn(&mut v, &request.resource_arn);
    v.finish()?;
    let pool = pool_of(state, &resource_arn).await?;
    Ok(json!({ "Tags": tags_of(&pool) }))
}
