"""The pure-NumPy core: math only, no I/O, no printing, no global state.

Modules here import nothing but NumPy, the standard library and each other.
"""
