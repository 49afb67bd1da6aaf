"""Reusable widgets: generated forms, dataset and model panels, live plots."""
