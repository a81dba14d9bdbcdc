"""Minimal contact with a co-parent: delivery at set times, and the co-parent log."""
