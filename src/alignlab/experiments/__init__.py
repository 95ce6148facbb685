"""Code that runs trainers to produce results: the Goodhart sweeps (:mod:`.sweep`), the three
forms of Goodhart's law (:mod:`.forms`) and the demo's ladder (:mod:`.demo`).

The top of the tree below the CLI: an experiment may use any package under it, and no
package but :mod:`alignlab.cli` imports an experiment.
"""
