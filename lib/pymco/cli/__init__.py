"""The `mco` command line."""
