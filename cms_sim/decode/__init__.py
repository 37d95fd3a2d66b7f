"""``cms-sim decode``: COPS / PacketCable DQoS messages from hex, binary or captures, shown for people or scripts.

``inputs`` reads the input into whole frames, ``dissect`` names every field,
``tree`` and ``jsonview`` render, ``command`` is the click command.
"""
