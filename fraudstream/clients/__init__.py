"""Shared client plumbing for services and the embedded engine: the exactly-once loop, Kafka client configuration, reading topics, the KSQL REST client."""
