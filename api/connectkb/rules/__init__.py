"""The rules engine: eligibility rules read from the KB's SHACL shapes, evaluated into three-valued
verdicts with each criterion's outcome and citations; fact input in JSON, Turtle and JSON-LD; routes."""
