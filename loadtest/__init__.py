"""Load generator for the hub: scenarios, client worker processes, reports."""

from loadtest.lifeline import follow_parent

follow_parent()  # runs in every client process, which imports this package to find its target
