"""``cms-sim run --step``: the run pauses before each message the gate controller sends.

:mod:`.preview` works out the message a step is about to send and why each
of its fields has its value; :mod:`.fields` says what each field is;
:mod:`.stepper` draws the pause (the ladder so far, the message as a tree
with both explanations) and takes the keys.
"""
