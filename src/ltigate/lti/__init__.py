"""The sans-I/O LTI protocol core: strings, mappings, keys and `now` in; frozen values or typed errors out.

Nothing in this package performs network, database, clock or environment access.
"""
