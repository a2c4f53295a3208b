"""SQL files shipped inside the warehouse package."""

from ecomm.db import package_sql


def read_sql(name: str) -> str:
    return package_sql("ecomm.warehouse", name)
