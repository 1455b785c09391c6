"""boardnet.alphazero: games behind one Game protocol, batched MCTS self-play, arena and play."""
