"""The browser console for ops and fraud analysts (`fraudstream console`).

An alert queue fed live from `fraud_alerts` with one-click verdicts that become labels on
`fraud_labels` exactly once, an overview of the loop (scores/s, alert rate, label
coverage, live precision/recall from the KSQL tables, latency, consumer lag), the models
in `fraud_models` and the drift the scorers report on `fraud_drift`.

It sits above the services in the import layers (like `fraudstream.api`): it reads Kafka
and KSQL through `fraudstream.clients` (the label writer, the models topic, the KSQL REST
client) and reuses the services' own code where the CLI does, and never imports the
embedded stand-ins or the stack manager: it meets them over the three endpoints, exactly
as it meets compose's real ones.
"""
