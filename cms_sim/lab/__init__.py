"""``cms-sim lab``: graded exercises for a cable-lab class.

The exercises live in ``labs/`` at the repository root (a wheel carries them
as ``cms_sim/lab/exercises``), one folder each: ``task.md`` for the
student, ``scenario.yaml`` with blanks (``___``) to fill, ``answer.yaml``,
the reference answer, ``notes.md`` for the instructor, and ``lab.yaml``:
its title, a hint per blank and hints keyed to what a wrong answer makes
go wrong.  :mod:`.catalog` finds and checks them, :mod:`.exercise` compares
an answer with its exercise, :mod:`.grading` runs it and picks the hint,
:mod:`.command` is the command line.
"""
