"""Edge runtime: the on-device agent and its ML workloads."""
