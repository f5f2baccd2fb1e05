"""Serving: clients and a local development server for exported SavedModels."""
