"""Protective orders and the timeline of contact attempts since an order was made."""
