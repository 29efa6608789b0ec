//! The operations of the admin API, named as in `X-Amz-Target` after the service prefix.

/// An admin operation this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminOperation {
    /// `CreateUserPool`.
    CreateUserPool,
    /// `DescribeUserPool`.
    DescribeUserPool,
    /// `ListUserPools`.
    ListUserPools,
    /// `DeleteUserPool`.
    DeleteUserPool,
    /// `CreateUserPoolClient`.
    CreateUserPoolClient,
    /// `DescribeUserPoolClient`.
    DescribeUserPoolClient,
    /// `UpdateUserPoolClient`.
    UpdateUserPoolClient,
    /// `ListUserPoolClients`.
    ListUserPoolClients,
    /// `DeleteUserPoolClient`.
    DeleteUserPoolClient,
    /// `AddUserPoolClientSecret`.
    AddUserPoolClientSecret,
    /// `ListUserPoolClientSecrets`.
    ListUserPoolClientSecrets,
    /// `DeleteUserPoolClientSecret`.
    DeleteUserPoolClientSecret,
    /// `CreateResourceServer`.
    CreateResourceServer,
    /// `DescribeResourceServer`.
    DescribeResourceServer,
    /// `UpdateResourceServer`.
    UpdateResourceServer,
    /// `ListResourceServers`.
    ListResourceServers,
    /// `DeleteResourceServer`.
    DeleteResourceServer,
    /// `CreateUserPoolDomain`.
    CreateUserPoolDomain,
    /// `DescribeUserPoolDomain`.
    DescribeUserPoolDomain,
    /// `DeleteUserPoolDomain`.
    DeleteUserPoolDomain,
    /// `UpdateUserPool`.
    UpdateUserPool,
    /// `GetUserPoolMfaConfig`.
    GetUserPoolMfaConfig,
    /// `SetUserPoolMfaConfig`.
    SetUserPoolMfaConfig,
    /// `TagResource`.
    TagResource,
    /// `UntagResource`.
    UntagResource,
    /// `ListTagsForResource`.
    ListTagsForResource,
    /// `GetSigningCertificate`.
    GetSigningCertificate,
    /// `UpdateUserPoolDomain`.
    UpdateUserPoolDomain,
    /// `GetClientToken`.
    GetClientToken,
    /// `RevokeToken`.
    RevokeToken,
}

/// The names of [`AdminOperation::ALL`], in the same order.
pub const OPERATIONS: &[&str] = &{
    let mut names = [""; AdminOperation::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = AdminOperation::ALL[i].name();
        i += 1;
    }
    names
};

impl AdminOperation {
    /// Every operation, grouped by resource.
    pub const ALL: [Self; 30] = [
        Self::CreateUserPool,
        Self::DescribeUserPool,
        Self::ListUserPools,
        Self::DeleteUserPool,
        Self::CreateUserPoolClient,
        Self::DescribeUserPoolClient,
        Self::UpdateUserPoolClient,
        Self::ListUserPoolClients,
        Self::DeleteUserPoolClient,
        Self::AddUserPoolClientSecret,
        Self::ListUserPoolClientSecrets,
        Self::DeleteUserPoolClientSecret,
        Self::CreateResourceServer,
        Self::DescribeResourceServer,
        Self::UpdateResourceServer,
        Self::ListResourceServers,
        Self::DeleteResourceServer,
        Self::CreateUserPoolDomain,
        Self::DescribeUserPoolDomain,
        Self::DeleteUserPoolDomain,
        Self::UpdateUserPool,
        Self::GetUserPoolMfaConfig,
        Self::SetUserPoolMfaConfig,
        Self::TagResource,
        Self::UntagResource,
        Self::ListTagsForResource,
        Self::GetSigningCertificate,
        Self::UpdateUserPoolDomain,
        Self::GetClientToken,
        Self::RevokeToken,
    ];

    /// The name in `X-Amz-Target` (`CreateUserPool`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::CreateUserPool => "CreateUserPool",
            Self::DescribeUserPool => "DescribeUserPool",
            Self::ListUserPools => "ListUserPools",
            Self::DeleteUserPool => "DeleteUserPool",
            Self::CreateUserPoolClient => "CreateUserPoolClient",
            Self::DescribeUserPoolClient => "DescribeUserPoolClient",
            Self::UpdateUserPoolClient => "UpdateUserPoolClient",
            Self::ListUserPoolClients => "ListUserPoolClients",
            Self::DeleteUserPoolClient => "DeleteUserPoolClient",
            Self::AddUserPoolClientSecret => "AddUserPoolClientSecret",
            Self::ListUserPoolClientSecrets => "ListUserPoolClientSecrets",
            Self::DeleteUserPoolClientSecret => "DeleteUserPoolClientSecret",
            Self::CreateResourceServer => "CreateResourceServer",
            Self::DescribeResourceServer => "DescribeResourceServer",
            Self::UpdateResourceServer => "UpdateResourceServer",
            Self::ListResourceServers => "ListResourceServers",
            Self::DeleteResourceServer => "DeleteResourceServer",
            Self::CreateUserPoolDomain => "CreateUserPoolDomain",
            Self::DescribeUserPoolDomain => "DescribeUserPoolDomain",
            Self::DeleteUserPoolDomain => "DeleteUserPoolDomain",
            Self::UpdateUserPool => "UpdateUserPool",
            Self::GetUserPoolMfaConfig => "GetUserPoolMfaConfig",
            Self::SetUserPoolMfaConfig => "SetUserPoolMfaConfig",
            Self::TagResource => "TagResource",
            Self::UntagResource => "UntagResource",
            Self::ListTagsForResource => "ListTagsForResource",
            Self::GetSigningCertificate => "GetSigningCertificate",
            Self::UpdateUserPoolDomain => "UpdateUserPoolDomain",
            Self::GetClientToken => "GetClientToken",
            Self::RevokeToken => "RevokeToken",
        }
    }

    /// The operation with this name (case-sensitive, as AWS reads targets).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Whether the operation only reads (`Describe…`, `List…`, `Get…`): anything else may
    /// change what the token endpoint grants.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::DescribeUserPool
                | Self::ListUserPools
                | Self::DescribeUserPoolClient
                | Self::ListUserPoolClients
                | Self::ListUserPoolClientSecrets
                | Self::DescribeResourceServer
                | Self::ListResourceServers
                | Self::DescribeUserPoolDomain
                | Self::GetUserPoolMfaConfig
                | Self::ListTagsForResource
                | Self::GetSigningCertificate
                | Self::GetClientToken
        )
    }

    /// Whether Cognito serves the operation without IAM authorization (`noAuth` in the
    /// model, or documented as not evaluated by IAM): callers send no SigV4 signature, and
    /// the client authenticates with its own id and secret instead.
    pub fn is_unsigned(self) -> bool {
        matches!(self, Self::GetClientToken | Self::RevokeToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for op in AdminOperation::ALL {
            assert_eq!(AdminOperation::parse(op.name()), Some(op));
        }
        assert_eq!(OPERATIONS.len(), AdminOperation::ALL.len());
        assert_eq!(OPERATIONS[0], "CreateUserPool");
        assert_eq!(AdminOperation::parse("createUserPool"), None);
        assert_eq!(AdminOperation::parse("AdminCreateUser"), None);
    }

    #[test]
    fn read_only_is_describe_list_and_get() {
        for op in AdminOperation::ALL {
            let by_name = ["Describe", "List", "Get"]
                .iter()
                .any(|prefix| op.name().starts_with(prefix));
            assert_eq!(op.is_read_only(), by_name, "{op:?}");
        }
    }
}
