"""Linked data and the web page: every IRI dereferenced with content negotiation, whole-KB dumps,
HTML pages of entities, and the single-page web app in web/."""
