"""boardnet.data"""
