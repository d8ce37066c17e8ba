"""The knowledge-base agent: ingestion, product sync, deletion and search over a shop's KB."""
