"""The shipped models, installed as the package ``drowsy.models``: one folder per task (eyes,
yawn: the members' ONNX files, their checksums, ensemble.json and the model card; temporal: the
GRU). ``training reproduce`` writes them; the runtime finds them with importlib.resources."""
