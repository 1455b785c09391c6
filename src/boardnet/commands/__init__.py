"""boardnet.commands"""
