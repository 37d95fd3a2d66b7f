"""The pieces of ``tools/fuzz.py``: a corpus of valid COPS messages, a mutation engine and three targets.

Every case is a pure function of the campaign's seed and its number
(:func:`copsfuzz.mutate.case_rng`), so any failure replays from those two
numbers alone.
"""
