"""boardnet.lc0: Leela Chess Zero nets: input planes, policy map, .pb.gz weights, PyTorch nets, V6 chunks,
losses and the ``lc0`` verbs."""
