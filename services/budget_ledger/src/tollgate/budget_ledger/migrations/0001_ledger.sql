-- The budget ledger: budgets and their per-period counters, holds, immutable ledger entries,
-- alerts, overrides and the audit trail. Money is integer micro-dollars throughout.

-- Start of the period containing `at`, in UTC. 'total' budgets have one period since the epoch.
CREATE FUNCTION ledger_period_start(period smallint, at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE period
    WHEN 1 THEN date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    WHEN 2 THEN date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    ELSE timestamptz '1970-01-01 00:00:00+00'
  END
$$;

-- End (exclusive) of the period starting at `start`; NULL for 'total'.
CREATE FUNCTION ledger_period_end(period smallint, start timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE period
    WHEN 1 THEN ((start AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
    WHEN 2 THEN ((start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    ELSE NULL
  END
$$;

CREATE TABLE budgets (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  -- 1 tenant, 2 api key, 3 contact (tollgate.v1.ScopeKind).
  scope_kind smallint NOT NULL CHECK (scope_kind BETWEEN 1 AND 3),
  -- The api key id or contact id; '' for the tenant scope.
  subject_id text NOT NULL,
  -- 1 day, 2 month, 3 total (tollgate.v1.BudgetPeriod).
  period smallint NOT NULL CHECK (period BETWEEN 1 AND 3),
  limit_micros bigint NOT NULL CHECK (limit_micros >= 0),
  -- 0: no token limit.
  limit_tokens bigint NOT NULL DEFAULT 0 CHECK (limit_tokens >= 0),
  alert_thresholds_percent integer[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, scope_kind, subject_id, period),
  CHECK ((scope_kind = 1) = (subject_id = ''))
);

-- What one budget has spent and holds in one period. Reservations lock these rows.
CREATE TABLE budget_counters (
  budget_id bigint NOT NULL REFERENCES budgets (id),
  period_start timestamptz NOT NULL,
  period_end timestamptz,
  spent_micros bigint NOT NULL DEFAULT 0,
  held_micros bigint NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
  spent_tokens bigint NOT NULL DEFAULT 0,
  held_tokens bigint NOT NULL DEFAULT 0 CHECK (held_tokens >= 0),
  PRIMARY KEY (budget_id, period_start)
);

-- One hold per request id and tenant; its id is the request id.
CREATE TABLE holds (
  tenant_id text NOT NULL,
  request_id text NOT NULL,
  api_key_id text NOT NULL DEFAULT '',
  contact_id text NOT NULL DEFAULT '',
  amount_micros bigint NOT NULL CHECK (amount_micros >= 0),
  tokens bigint NOT NULL CHECK (tokens >= 0),
  -- 1 held, 2 committed, 3 released, 4 expired (tollgate.v1.HoldStatus).
  status smallint NOT NULL CHECK (status BETWEEN 1 AND 4),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  settled_at timestamptz,
  PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX holds_expiring ON holds (expires_at) WHERE status = 1;

-- The counters a hold was charged against, so settling touches exactly those periods.
CREATE TABLE hold_counters (
  tenant_id text NOT NULL,
  request_id text NOT NULL,
  budget_id bigint NOT NULL,
  period_start timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, request_id, budget_id),
  FOREIGN KEY (tenant_id, request_id) REFERENCES holds (tenant_id, request_id),
  FOREIGN KEY (budget_id, period_start) REFERENCES budget_counters (budget_id, period_start)
);

-- One immutable entry per request: a committed charge or a recorded zero-cost request.
CREATE TABLE ledger_entries (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  request_id text NOT NULL,
  api_key_id text NOT NULL DEFAULT '',
  contact_id text NOT NULL DEFAULT '',
  -- 'commit' or 'usage'.
  kind text NOT NULL CHECK (kind IN ('commit', 'usage')),
  model text NOT NULL DEFAULT '',
  task smallint NOT NULL DEFAULT 0,
  cache_status smallint NOT NULL DEFAULT 0,
  held_micros bigint NOT NULL DEFAULT 0,
  cost_micros bigint NOT NULL CHECK (cost_micros >= 0),
  tokens bigint NOT NULL DEFAULT 0,
  baseline_cost_micros bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  over_hold boolean NOT NULL DEFAULT false,
  late boolean NOT NULL DEFAULT false,
  -- The UsageRecord as sent, for audits beyond the columns above.
  record bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, request_id)
);
CREATE INDEX ledger_entries_by_time ON ledger_entries (tenant_id, created_at);

-- What each optimization did to the request of an entry (OptimizationReport), for savings.
CREATE TABLE ledger_entry_optimizations (
  entry_id bigint NOT NULL REFERENCES ledger_entries (id),
  position smallint NOT NULL,
  optimization text NOT NULL,
  -- tollgate.v1.FlagMode
  mode smallint NOT NULL DEFAULT 0,
  applied boolean NOT NULL,
  tokens_saved bigint NOT NULL DEFAULT 0,
  micros_saved bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (entry_id, position)
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are immutable (% on %)', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_optimizations_immutable
  BEFORE UPDATE OR DELETE ON ledger_entry_optimizations
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TABLE budget_overrides (
  id bigserial PRIMARY KEY,
  budget_id bigint NOT NULL REFERENCES budgets (id),
  extra_micros bigint NOT NULL CHECK (extra_micros > 0),
  reason text NOT NULL,
  actor text NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX budget_overrides_by_budget ON budget_overrides (budget_id, expires_at);

-- Raised at most once per budget, period and threshold.
CREATE TABLE budget_alerts (
  id bigserial PRIMARY KEY,
  budget_id bigint NOT NULL REFERENCES budgets (id),
  tenant_id text NOT NULL,
  period_start timestamptz NOT NULL,
  threshold_percent integer NOT NULL,
  spent_micros bigint NOT NULL,
  limit_micros bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (budget_id, period_start, threshold_percent)
);
CREATE INDEX budget_alerts_by_tenant ON budget_alerts (tenant_id, created_at);

-- Every change to a budget and every override granted: who, why, before and after.
CREATE TABLE budget_audit (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  budget_id bigint NOT NULL REFERENCES budgets (id),
  action text NOT NULL CHECK (action IN ('budget_created', 'budget_updated', 'override_granted')),
  actor text NOT NULL,
  reason text NOT NULL DEFAULT '',
  before jsonb,
  after jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX budget_audit_by_tenant ON budget_audit (tenant_id, at);
CREATE TRIGGER budget_audit_immutable BEFORE UPDATE OR DELETE ON budget_audit
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
