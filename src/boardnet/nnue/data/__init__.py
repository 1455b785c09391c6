"""boardnet.nnue.data"""
