"""Docker-free stand-ins for the compose stack: a real Kafka broker started from the
official jars, a Confluent-compatible schema registry and a ksqlDB-compatible engine.

Application code never imports from here; only the stack manager and tests do.
"""
