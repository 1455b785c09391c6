"""boardnet.features"""
