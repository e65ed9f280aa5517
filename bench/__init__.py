# Imported first, before anything loads grpc: the command's gRPC fork setting applies here too
# (the benchmarks start the suite's processes the way `tollgate run` does).
import tollgate.cli  # noqa: F401
