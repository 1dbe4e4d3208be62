"""The bundled sample sources: seeded generators, a SQL loader and a tiny JSON API."""
