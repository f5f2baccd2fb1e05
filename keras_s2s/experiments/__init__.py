"""The paper's studies (`keras-s2s experiment`): an `Experiment` of models trained on demand
(`experiment`), the studies over it (`studies`) and their plots and tables (`figures`)."""

STUDIES = ("reverse", "beam", "rescore", "length", "pca")
