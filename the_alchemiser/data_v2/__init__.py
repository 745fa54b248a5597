"""Data refresh Lambda: after the close, bring the S3 datalake up to the last complete trading day for
every symbol the strategies mention (the service is shared.market_data.refresh)."""
