"""Ops views on the fraud_scores topic: a live terminal view and the compose dashboards."""
