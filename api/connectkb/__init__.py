"""connectkb: a rules-as-data knowledge base of Hong Kong–mainland financial connectivity policy."""

__version__ = "0.1.0"
