"""Vector stores behind one interface: a Qdrant server, or the in-process engine."""
