"""grpc.aio servicers: thin adapters from RPCs to flows."""
