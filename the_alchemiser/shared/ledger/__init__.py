"""The trade ledger contract (DynamoDB adapter in dynamodb.py) and the per-strategy lot book (book.py)."""

from the_alchemiser.shared.ledger.models import (
    LedgerOrder,
    LotBookReader,
    LotBookWriter,
    TradeLedgerReader,
    TradeLedgerWriter,
)

__all__ = ["LedgerOrder", "LotBookReader", "LotBookWriter", "TradeLedgerReader", "TradeLedgerWriter"]
