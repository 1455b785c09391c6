"""boardnet.nnue: Stockfish NNUE nets: feature blocks, .nnue files per Stockfish version, exact evaluation,
training data, losses and the ``nnue`` verbs."""
