"""rmapshim reports: read the binary log of a traced run, model it, render it.

Data flows one way: logread (records) -> model (one Run) -> symbols ->
render (terminal, JSON, HTML), diff, export.  Nothing here writes into a
run directory except the symbol cache.
"""
