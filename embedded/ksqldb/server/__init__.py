"""The ksqlDB REST API (as ksql-python-ng and the ksqlDB CLI use it) over the runtime."""
