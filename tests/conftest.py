"""The whole suite: pytester for the plugin's own tests; scenario files under tests/ are data, not test items.

The suite runs with the codec's fast path in verify mode (cops_core.fastpath): every template decode and
encode is checked against the general codec, here and in the tools the tests start as subprocesses.
"""

import os

from cops_core import fastpath

fastpath.set_mode(os.environ.setdefault("PKTCABLE_FASTPATH", "verify"))

pytest_plugins = ["pytester"]

# Deliberately failing scenarios live here as fixtures of the tests that load them.
collect_ignore_glob = ["cms_sim/scenarios_failing/*.yaml"]
