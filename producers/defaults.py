"""Defaults shared by the producers and their command line.

Kept free of heavy imports: `fraudstream --help` imports every command's `cli` module,
and the producers' NumPy/Arrow/SciPy stack (0.6 s) loads only when a command runs.
"""

DEFAULT_FRAUD_RATE = 0.001727  # 0.1727 %: 492 frauds in 284,807 transactions (Kaggle)
DEFAULT_PARTITIONS = 3  # what ksql/01_source.ksql declares for creditcardfraud_source
DEFAULT_POOL_SIZE = 1000
DEFAULT_POOL_SEED = 0
TRANSACTION_FORMATS = ("delimited", "json")
USER_FORMATS = ("auto", "avro", "json")
LABEL_MODES = ("event", "topic", "both")  # where the dataset's Class goes (see late_labels.py)
DEFAULT_LABEL_DELAY = "exp:5s"
