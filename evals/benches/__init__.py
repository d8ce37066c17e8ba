"""One module per benchmark; importing this package registers them all."""
