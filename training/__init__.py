"""Training side of drowsy (PyTorch): datasets, self-supervised pretraining, fine-tuning,
ensembles, the temporal model and ONNX export. Installed with the ``training`` extra; the
runtime package ``drowsy`` never imports it. It reuses ``drowsy.vision.crops.cut_crops`` so
training and runtime crop identically."""

# Version of the shipped eye and yawn ensembles: bump when their input or recipe changes.
MODEL_VERSION = "3"
