"""Orders: purchases from the store, the web shop or the LINE shop, by API, CSV import or by hand.

`records` holds the reads and the idempotent write (order_create); `csv_import` the CSV import.
"""

from .csv_import import (
    CSV_COLUMNS,
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    SYNC_MAX_ROWS,
    ImportResult,
    orders_import,
    orders_import_run,
    orders_import_start,
    read_csv,
)
from .records import (
    MAX_AMOUNT,
    ItemInput,
    OrderNumberTaken,
    customer_orders,
    order_create,
    orders_visible_to,
)

__all__ = [
    "CSV_COLUMNS",
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_ROWS",
    "MAX_AMOUNT",
    "SYNC_MAX_ROWS",
    "ImportResult",
    "ItemInput",
    "OrderNumberTaken",
    "customer_orders",
    "order_create",
    "orders_import",
    "orders_import_run",
    "orders_import_start",
    "orders_visible_to",
    "read_csv",
]
