"""Aggregate functions: client-side summaries of one output across replies."""
