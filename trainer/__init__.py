"""Trainer: preprocessed Avro topic → pandas → Keras autoencoder → evaluation → fraud_models.

Modules, in pipeline order: `ingest` (bounded topic read, fast Confluent-Avro decoding),
`prepare` (features, labels, split, scaler), `model` (the autoencoder), `threshold`
(rules on validation data), `evaluate` (metrics), `report` (plots, HTML report),
`tensorboard` (one graph per run), `artifacts` (versioned run directory), `pipeline`
(the `fraudstream train` run), `csv_eval` (scoring a Kaggle-layout CSV), `cli`. The
steps themselves (prepare, fit, threshold, evaluate, bundle) are `steps`, which both
`pipeline` and the Python API (`fraudstream.api`, the notebooks) call.
TensorFlow is imported inside functions only, so `fraudstream --help` stays fast.
"""
