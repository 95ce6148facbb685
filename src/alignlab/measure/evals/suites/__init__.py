"""The alignment suites, one module each; :mod:`alignlab.measure.evals.registry` names them."""
