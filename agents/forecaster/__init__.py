"""The forecaster: per-SKU demand forecasts with automatic model choice, and restock advice.

Pure cores (no DB, no clock): `sales_import` (CSV/XLSX → rows), `panel` (rows → dense daily matrix),
`demand` (ADI/CV² classes), `holidays` (uplift over the 春节/618/双11 windows of `store.holidays`),
`selection` (statsforecast candidates + rolling-origin backtest), `backtest` (holdout metrics),
`restock` (reorder math, budget allocation, Chinese explanations).
"""
