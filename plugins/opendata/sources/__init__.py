"""Source readers: each yields the source in pandas chunks, so memory never grows with rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from opendata.sources.base import ExtractError
from opendata.spec.dataset import FileSource, HttpSource, SqlSource

if TYPE_CHECKING:
    # Only for annotations: the spec loader imports opendata.spec.sql_lint while parsing DAGs,
    # and pandas would cost every parse a second.
    import pandas as pd

    from opendata.sources.ragged import RaggedRows
    from opendata.sources.watermark import Bound


def read_chunks(source: SqlSource | FileSource | HttpSource, since: tuple[str, Bound] | None = None,
                ragged: RaggedRows | None = None, *, arrow: bool = False) -> Iterator[pd.DataFrame]:
    """Chunks of the source as the source gives them (names and types not yet mapped).

    ``since`` = (source column, value): a hint that only rows past the watermark are wanted.
    A database is asked for just those; other sources are filtered after typing. Rows of a CSV
    file or sheet whose fields do not line up with the header are left out and counted in
    ``ragged`` (a database's and a JSON API's cannot be). With ``arrow``, a chunk PostgreSQL's
    COPY path read may come as the Arrow batch it was read as (``pg_arrow.to_frame`` makes it
    the pandas chunk).
    """
    # Imported here: each reader pulls in its own client libraries only when used.
    if isinstance(source, SqlSource):
        from opendata.sources.sql import read_sql_chunks

        return read_sql_chunks(source, since=since, arrow=arrow)
    if isinstance(source, FileSource):
        from opendata.sources.files import read_file_chunks

        return read_file_chunks(source, ragged)
    from opendata.sources.http import read_http_chunks

    return read_http_chunks(source, ragged)


__all__ = ["ExtractError", "read_chunks"]
