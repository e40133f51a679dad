"""`make bench`: speed, memory and flash figures of the firmware on the simulator and the
MicroPython VM (figures, not tests). Not part of the installed package: it runs from the
checkout (``python -m bench``), next to the firmware, the simulator and the host tools it
measures.

- ``harness``: the scratch directory, bench/vm/ scripts on the VM, scenario runs, the one
  heap bisection;
- ``tap``: the fixed-fare tap loop (CPython and VM speed, smallest heap, flash wear);
- ``denylist``, ``fare``, ``pos``, ``deploy``: one area each (``python -m bench.fare`` etc.
  runs one alone);
- ``vm/``: the MicroPython scripts the benches run on the VM (real files, compiled by
  mpy-cross in tests/test_vm_scripts.py);
- ``pos-shift.json``: the POS shift whose smallest heap ``pos`` bisects.
"""
