"""Shared fixtures: an isolated Airflow home per test session, the portal emulator."""
