pub(crate) async fn get(
    _state: &crate::AppState,
    _body: &[u8],
) -> Result<serde_json::Value, super::error::AdminError> {
    Err(super::error::AdminError::internal())
}
