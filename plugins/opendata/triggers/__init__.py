"""Triggers that run in Airflow's triggerer while tasks wait without holding a worker slot."""
