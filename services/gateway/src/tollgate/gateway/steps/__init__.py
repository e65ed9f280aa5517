"""The optimization steps of a Complete request, one module each (see base.py)."""
