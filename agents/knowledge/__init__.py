"""The knowledge-base agent: ingestion, product sync, deletion and search over a shop's KB, and the
catalog import (`catalog_parse`: file → checked records → plan, pure; `catalog_import`: the write)."""
