"""boardnet.alphazero.games"""
