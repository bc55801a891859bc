"""The docs generator: the bilingual Markdown documentation in docs/, generated from the KB."""
