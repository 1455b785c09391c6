"""boardnet.formats"""
