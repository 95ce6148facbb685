"""Scalable oversight: protocols that let a weak overseer supervise a stronger model.

Each protocol is model-agnostic: its roles (debaters, judges, answerers, reward models)
are models behind :mod:`alignlab.models.backends` or classifier directories, so the same
functions run on the assistant organism, where every answer's truth is known, and on real
models or endpoints.

- :mod:`.debate`: debate, consultancy and the naive judge (Khan et al. 2024);
- :mod:`.amplify`: decomposition into sub-questions, recombination, distillation (IDA);
- :mod:`.process`: best-of-N by process and outcome reward models and by majority
  (Lightman et al. 2023);
- :mod:`.w2s`: weak-to-strong generalization and the performance gap recovered (Burns et
  al. 2023).
"""
