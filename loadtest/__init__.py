"""Load generator for the hub: scenarios, client worker processes, reports."""
