"""`opendata check`: a dry run on the engineer's machine, extract and validate against the real
source without touching the portal or needing a scheduler."""
