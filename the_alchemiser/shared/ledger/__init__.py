"""The trade ledger contract (DynamoDB adapter in dynamodb.py)."""

from the_alchemiser.shared.ledger.models import LedgerOrder, TradeLedgerReader, TradeLedgerWriter

__all__ = ["LedgerOrder", "TradeLedgerReader", "TradeLedgerWriter"]
