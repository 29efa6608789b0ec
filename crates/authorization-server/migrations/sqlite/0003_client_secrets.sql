-- An app client holds up to two active secrets, as Cognito's AddUserPoolClientSecret allows,
-- so that a secret can be replaced without a failed call. The token endpoint accepts any of
-- them. Ids follow Cognito's format `<client-id>--<epoch-create-time>` (milliseconds here).
CREATE TABLE client_secrets (
    secret_id  TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL REFERENCES app_clients (client_id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_ms);

-- A client made before this migration keeps its one secret, now the first entry.
INSERT INTO client_secrets (secret_id, client_id, secret, created_ms)
SELECT client_id || '--' || created_ms, client_id, secret, created_ms
FROM app_clients WHERE secret IS NOT NULL;

ALTER TABLE app_clients DROP COLUMN secret;
