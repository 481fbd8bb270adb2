"""The report's outputs: the findings model and the files written from it."""
