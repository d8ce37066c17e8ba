"""Every SQL query in siyu lives in this package. Each tenant query takes `shop_id`."""
