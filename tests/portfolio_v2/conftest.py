"""Portfolio fixtures: the Powertools idempotency table on the real DynamoDB Local is
tests/fixtures/idempotency.py's `idempotency_table`."""
