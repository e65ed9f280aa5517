"""Sentence embeddings from a local ONNX model: the model itself, and a batching front end."""
