"""Export: SavedModels (TF Serving layout) written from a Translator, and their reloading."""
