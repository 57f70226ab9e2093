"""Chain access: RPC clients with failover, contract bindings, route state readers."""
