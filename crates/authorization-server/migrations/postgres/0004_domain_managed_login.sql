-- UpdateUserPoolDomain: the managed-login version of a domain (1 classic hosted UI,
-- 2 managed login); NULL when never set, which Cognito reports as version 1.
ALTER TABLE domains ADD COLUMN managed_login_version BIGINT;
