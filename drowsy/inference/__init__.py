"""Model inference in ONNX Runtime (no torch): model wrapper, ensemble voting, estimators."""
