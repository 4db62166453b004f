"""Statements to query plans: sources, joins, grouping, projection and sinks."""
