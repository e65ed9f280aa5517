"""The near-miss guard: refuses a cached answer unless every difference is explained."""

from tollgate.semantic_cache.guard.guard import NearMissGuard, Rejection, model_vocabulary

__all__ = ["NearMissGuard", "Rejection", "model_vocabulary"]
