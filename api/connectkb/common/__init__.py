"""What every engine shares: namespaces, ids, languages, labels and citations, where the data lives,
and content negotiation. Nothing here depends on an engine."""
