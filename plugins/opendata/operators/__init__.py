"""Thin operators: each resolves its dataset and calls the library function doing the work."""
