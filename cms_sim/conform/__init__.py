"""``cms-sim conform``: the conformance suite for a CMTS."""
