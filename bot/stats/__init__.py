"""Statistics of a period (period in, figures out), their chart picture and their text.

Plain functions over loaded sets: the ledger, /stats, the monthly statistics and the
analysis reports all call `load_stats` and read the same figures.
"""
