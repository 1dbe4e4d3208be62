"""The city's catalog of datasets as a whole: reports and exports over every dataset file and the registry."""
