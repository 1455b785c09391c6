"""boardnet.tfimport: TensorFlow checkpoints, Keras files and legacy pickles read without TensorFlow, and the
declarative mappings that turn their variables into boardnet state dicts."""
