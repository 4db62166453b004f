"""Bottom layer: settings, errors, the feature list, Avro wire format and schemas, processes, the model bundle."""
