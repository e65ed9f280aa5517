-- Agent profiles: a tenant's agents (CRM users), rendered into the system prompt of the calls
-- that name them. The gateway reads them through the ledger's AgentProfileService.
CREATE TABLE agent_profiles (
  tenant_id text NOT NULL,
  agent_id text NOT NULL CHECK (agent_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  -- tollgate.v1.AgentRole and AgentExperience numbers; 0 (unspecified) is never stored.
  role smallint NOT NULL CHECK (role > 0),
  experience smallint NOT NULL CHECK (experience > 0),
  specializations text[] NOT NULL DEFAULT '{}' CHECK (cardinality(specializations) <= 8),
  updated_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, agent_id)
);
