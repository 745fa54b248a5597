"""Signal Aggregator: stores each strategy's partial once, merges when all are in, ends late sessions by policy."""
