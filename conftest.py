"""Fixtures every test directory shares: real Redis and Postgres, in-process servers."""

pytest_plugins = ["tollgate.common.testing"]
