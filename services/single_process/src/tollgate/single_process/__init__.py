"""The whole suite in one process (see tollgate.single_process.suite)."""
