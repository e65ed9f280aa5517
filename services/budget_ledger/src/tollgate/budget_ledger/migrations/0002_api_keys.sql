-- Managed API keys: only the SHA-256 of a secret is stored, never the secret. Every change to a
-- key takes the next revision, so gateway replicas follow the keys by asking for the changes
-- since the last revision they saw (tollgate.budget_ledger.api_keys).

-- One row holding the last revision given out. A change locks it while its transaction runs,
-- so revisions commit in order: a replica that has read revision N never misses one below N.
CREATE TABLE api_key_revision (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  revision bigint NOT NULL
);
INSERT INTO api_key_revision (revision) VALUES (0);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  name text NOT NULL,
  -- 1 app, 2 admin, 3 operator (tollgate.v1.ApiKeyRole).
  role smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
  secret_sha256 text NOT NULL UNIQUE CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  -- The secret before the last rotation, accepted until previous_valid_until.
  previous_secret_sha256 text CHECK (previous_secret_sha256 ~ '^[0-9a-f]{64}$'),
  previous_valid_until timestamptz,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  rotated_at timestamptz,
  -- Per-key limits; 0 or empty: none of the key's own.
  requests_per_minute bigint NOT NULL DEFAULT 0 CHECK (requests_per_minute >= 0),
  tokens_per_minute bigint NOT NULL DEFAULT 0 CHECK (tokens_per_minute >= 0),
  budget_micros bigint NOT NULL DEFAULT 0 CHECK (budget_micros >= 0),
  -- tollgate.v1.BudgetPeriod of the key's budget; 0 when it has none.
  budget_period smallint NOT NULL DEFAULT 0 CHECK (budget_period BETWEEN 0 AND 3),
  allowed_models text[] NOT NULL DEFAULT '{}',
  -- tollgate.v1.TaskType values.
  allowed_tasks smallint[] NOT NULL DEFAULT '{}',
  revision bigint NOT NULL
);
-- A name names one live key of a tenant; a revoked key's name may be used again.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (tenant_id, name) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);
CREATE UNIQUE INDEX api_keys_by_revision ON api_keys (revision);

-- Who created, rotated or revoked which key and when (never a secret or its hash).
CREATE TABLE api_key_audit (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  key_id text NOT NULL REFERENCES api_keys (id),
  action text NOT NULL CHECK (action IN ('key_created', 'key_rotated', 'key_revoked')),
  actor text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_key_audit_by_tenant ON api_key_audit (tenant_id, at);
CREATE TRIGGER api_key_audit_immutable BEFORE UPDATE OR DELETE ON api_key_audit
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
