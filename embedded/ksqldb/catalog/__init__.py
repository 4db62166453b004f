"""SQL types, logical schemas, source formats and the metastore (the lowest layer of the engine)."""
