"""boardnet.selfplay"""
