"""The interpretability lab's experiments: each runs a method of :mod:`alignlab.interp` on
model directories (the organism's ladder stages, or real models) and publishes a panel
under results.json's ``interp`` section (:mod:`.base`)."""
