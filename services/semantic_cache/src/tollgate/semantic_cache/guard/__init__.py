"""The near-miss guard: refuses a cached answer whose question differs in what decides it."""

from tollgate.semantic_cache.guard.features import QuestionFeatures, extract_features
from tollgate.semantic_cache.guard.guard import NearMissGuard, Rejection

__all__ = ["NearMissGuard", "QuestionFeatures", "Rejection", "extract_features"]
