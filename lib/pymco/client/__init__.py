"""The client side: connection, discovery, RPC calls and their results."""
