"""Contract-test corpus: recorded Socrata responses and helpers to compare shapes (see README.md)."""
