-- Cognito signs access tokens and ID tokens with different keys and publishes both.
-- Keys made before this migration signed access tokens.
ALTER TABLE signing_keys ADD COLUMN token_use TEXT NOT NULL DEFAULT 'access';
