"""boardnet.train"""
