"""Figures of the knowledge base drawn with matplotlib's SVG backend (imported lazily, on first use): the
forest plot of an evidence list and a patient's PAM profile. Each function takes the library's plain dicts
and returns an SVG string the pages inline (and a command could write to a file). Imports only kb.core."""
