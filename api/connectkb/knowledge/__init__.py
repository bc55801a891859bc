"""The knowledge engine: Turtle → parsed triples (loader) → SHACL integrity and seed quotes (integrity,
quotes) → the store every other engine queries (stores, load); entity look-up and its routes."""
