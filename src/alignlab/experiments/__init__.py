"""Code that runs trainers to produce results: the Goodhart sweeps (:mod:`.sweep`), the three
forms of Goodhart's law (:mod:`.forms`), the demo's ladder on the organism (:mod:`.demo`) and on a
real model (:mod:`.real`).

The top of the tree below the CLI: an experiment may use any package under it, and no
package but :mod:`alignlab.cli` imports an experiment.
"""
