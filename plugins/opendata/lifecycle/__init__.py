"""The dataset DAG: the factory that builds one per dataset file, and its stage tasks."""
