"""The package's version, in a module of its own so that any floor can name it without importing
the package's __init__ (and its lazy public names)."""
__version__ = "0.1.0"
