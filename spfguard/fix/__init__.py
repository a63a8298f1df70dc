"""``fix``: plan a corrected record set, prove it equivalent, apply it through a provider."""
