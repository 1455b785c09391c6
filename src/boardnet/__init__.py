"""boardnet: train, convert and verify the neural networks that board-game engines run."""

__version__ = "0.1.0"
