"""The alignment suites, one module each; :mod:`alignlab.evals.registry` names them."""
