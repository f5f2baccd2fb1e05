"""The paper's studies (`keras-s2s experiment`): an `Experiment` of models trained on demand
(`experiment`), the studies over it (`studies`) and their plots and tables (`figures`), and
the recipe search (`recipe_search`) and back-translation (`backtranslation`)."""

STUDIES = ("reverse", "beam", "rescore", "length", "pca")
# Not part of `all`: the recipe search needs its own steps file, and back-translation trains
# models of its own on a split of the corpus.
SEARCHES = ("recipe", "backtranslation")
