"""The accuracy benchmark of the defect detectors: a corpus with known defects, a matcher, a command.

* :mod:`farm.bench.defects` plants one defect of a given kind into stereo music and says where (a :class:`Truth`).
* :mod:`farm.bench.corpus` renders a catalogue of realistic songs, about half of them clean and half with planted
  defects, and writes the truth list next to it (``truth.parquet``).
* :mod:`farm.bench.accuracy` runs the QC audit over such a corpus and scores what it found against the truth:
  recall, precision and false alarms per hour, per kind.
* :mod:`farm.bench.cli` is ``farm bench qc-accuracy``.
"""

from farm.bench.defects import DEFECT_KINDS, PLANTERS, Truth

__all__ = ["DEFECT_KINDS", "PLANTERS", "Truth"]
