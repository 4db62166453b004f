"""Names the dead-code finder (vulture) reports as unused although they are used, each with
the reason. Read by tests/unit/test_dead_code.py, never imported. Anything vulture reports
that is not here is dead and goes, or gets a line here saying why it stays.

Also ignored there by pattern: `_c_*` (ExprCompiler) and `_t_*` (ExpressionTyper), the
per-node methods both classes dispatch to by name (`getattr(self, "_c_" + node type)`).
"""

# ruff: noqa
# type: ignore

# Settings of hypercorn's Config, read by hypercorn (embedded/ksqldb/__main__.py).
_.accesslog
_.errorlog
_.graceful_timeout

# uvicorn's Server.should_exit, read by uvicorn's serve loop (scorer/http.py,
# embedded/schema_registry/__main__.py).
_.should_exit

# PEP 562 module hooks, called by Python for `fraudstream.read_topic` and `dir(fraudstream)`
# (fraudstream/__init__.py loads the API on first use).
__getattr__
__dir__

# A keras.callbacks.Callback hook, called by Keras (trainer/tensorboard.py).
_.on_train_begin

# Marks the UDF a per-record error wrapper calls, for inspect.unwrap and debugging
# (expr/compiler.py).
_.__wrapped__

# expr/runtime_ops.py: called from the Python source the expression compiler generates
# (`_ops.ddiv(a, b)`), which vulture cannot see.
null_operand
ddiv
dmod
dec_div
dec_mod

# Syntax tree fields: the tree records what a statement says, including what the engine
# does not act on (a window's RETENTION; the position of a created source's name).
_.retention_ms
_.name_loc
