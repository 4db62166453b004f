"""The I/O-free operators that run a plan over records (`records.py` is their boundary)."""
