"""`opendata adopt`: taking over a dataset already public on the portal (one, or a batch from the
catalog): its dataset file from the portal's metadata, the registry's Stage 2 record, and a first
run that sends only what differs from the portal's rows, never creating a dataset."""
