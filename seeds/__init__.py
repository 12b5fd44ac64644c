"""The bundled seeds: source papers, their manifest, marker dictionary, vocabularies and curation files.

This is package data; it is a package only so that the wheel carries it and `importlib.resources` finds it.
"""
