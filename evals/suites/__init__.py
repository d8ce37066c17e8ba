"""One module per suite; importing this package registers them all."""
