-- LambdaConfig of a user pool (JSON, Cognito's member names), in its own column so that
-- the token endpoint reads the pre token generation trigger with the client. Pools made
-- before this migration have no trigger.
ALTER TABLE user_pools ADD COLUMN lambda_config TEXT NOT NULL DEFAULT '{}';
