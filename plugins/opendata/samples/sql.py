"""Load the building-permits sample into a SQL database (SQLite for the demo, PostgreSQL in tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

PERMITS_TABLE = "building_permits"

_PERMIT_TYPES = {
    "permit_nbr": sa.String(32),
    "permit_type": sa.String(64),
    "permit_sub_type": sa.String(64),
    "status": sa.String(32),
    "issue_date": sa.Date(),
    "valuation": sa.Numeric(14, 2),
    "square_footage": sa.Integer(),
    "work_description": sa.Text(),
    "address": sa.String(128),
    "zip_code": sa.String(10),
    "council_district": sa.Integer(),
    "contractor": sa.String(128),
    "latitude": sa.Float(),
    "longitude": sa.Float(),
}


def load_permits(url: str, csv_path: Path, table: str = PERMITS_TABLE) -> int:
    """(Re)create ``table`` from the sample CSV in the database at SQLAlchemy ``url``."""
    frame = pd.read_csv(csv_path, dtype={"permit_nbr": str, "zip_code": str}, parse_dates=["issue_date"])
    frame["issue_date"] = frame["issue_date"].dt.date
    frame["square_footage"] = frame["square_footage"].astype("Int64")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            frame.to_sql(table, conn, if_exists="replace", index=False, dtype=_PERMIT_TYPES, chunksize=1000)
    finally:
        engine.dispose()
    return len(frame)
