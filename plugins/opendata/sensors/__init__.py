"""Deferrable sensors of the dataset DAG."""
