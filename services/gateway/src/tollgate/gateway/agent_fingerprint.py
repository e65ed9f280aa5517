"""What a response cache keys on for a request naming an agent: a digest of what the agent's
profile renders into the prompt (profiles that render the same share answers)."""

from __future__ import annotations

import hashlib

from tollgate.common.agent_profiles import canonical_profile
from tollgate.v1 import common_pb2


def profile_fingerprint(profile: common_pb2.AgentProfile) -> str:
    digest = hashlib.sha256(canonical_profile(profile).encode()).hexdigest()
    return f"agent_profile:{digest}"
