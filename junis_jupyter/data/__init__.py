"""DataFrames and everything that runs many calls: schemas, fetchers, the usage ledger, batches."""
