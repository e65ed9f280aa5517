"""Runtime shared by every Tollgate service."""
