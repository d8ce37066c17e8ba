"""Recommender and customer segments: pure cores (RFM, model, ranking, reasons, evaluation)."""
