"""The time engine: the KB as of a day, what changed between two days, frozen releases and their
diffs, the Atom feed; routes."""
