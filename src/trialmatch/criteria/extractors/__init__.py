"""The concept extractors of the criteria compiler, one module per family (see ``registry``)."""
