"""Looking inside the model: linear probes on hidden states (is the statement true, whatever
the model says?), the gap between what a model knows and what it does (capacity versus
capability), the token-distribution shift alignment makes (the superficial-alignment
hypothesis), and a basic-values profile. Each takes model directories and records, so it
works on the organism's stages and on any HF causal LM; the experiments that run them live
in :mod:`alignlab.experiments.interp`, and each reports a panel in results.json's
``interp`` section.
"""
