"""Measured precision: verified hits, their store, the Wilson bound and the shadow switch."""
