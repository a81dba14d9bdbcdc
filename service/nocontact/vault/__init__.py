"""The evidence vault: sealing (age), the blob store, the ledger and its checkpoints."""
