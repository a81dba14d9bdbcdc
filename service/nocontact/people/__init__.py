"""People on the list, their identifiers, and how identifiers are normalised for matching."""
