"""The engine: executes statements against the metastore, owns persistent and transient queries."""
