"""Games: rules, the network input encoding and symmetries."""
