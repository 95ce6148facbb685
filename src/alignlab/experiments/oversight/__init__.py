"""The scalable-oversight lab on the assistant organism: each protocol of
:mod:`alignlab.oversight` run over seeds, with its paper's figure as a report panel.

- ``debate``: judge accuracy, naive / consultancy / debate, against debater strength;
- ``amplify``: accuracy against the number of steps, direct / amplified / distilled;
- ``process``: best-of-N accuracy by a process and an outcome reward model and by majority;
- ``w2s``: weak, weak-to-strong and strong-ceiling accuracy and the gap recovered.
"""
