"""Expressions: type checking and compilation to Python, runtime values, scalar and aggregate functions."""
