"""Python clients of the hub: the reconnecting connection and what builds on it."""
