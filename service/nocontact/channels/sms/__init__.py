"""SMS gateways: one module per provider, same interface; forwarders."""
