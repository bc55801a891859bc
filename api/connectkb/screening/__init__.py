"""Screening a bond universe: many bonds × many rules, read in chunks, answered row by row."""
