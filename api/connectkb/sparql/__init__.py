"""The SPARQL 1.1 endpoint: the protocol and its routes, the guard that refuses what a read-only
public endpoint must not run, and the pool of killable workers that runs the rest."""
