"""No Contact."""
