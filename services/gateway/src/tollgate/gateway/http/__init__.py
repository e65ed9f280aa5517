"""The gateway's HTTP front door: Anthropic's Messages API over HTTP, served in the gateway's own
event loop by the same pipeline as the gRPC `Complete`."""
