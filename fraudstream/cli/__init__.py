"""The `fraudstream` command line."""
