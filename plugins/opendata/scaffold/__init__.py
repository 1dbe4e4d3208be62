"""`opendata new`: a dataset file drafted from its source (SQL table or query, CSV/Excel file,
JSON API): columns typed for Socrata, the row identifier, a watermark and privacy suggestions from
sampled values, the department's people from the governance file, and a ``TODO:`` only where a
person must write."""
