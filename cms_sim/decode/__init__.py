"""``cms-sim decode``: COPS / PacketCable DQoS messages from hex, binary or captures, shown for people or scripts.

``inputs`` reads the input into whole frames, ``dissect`` names every field
(``descriptions`` says what codes mean), ``findings`` lists the rules a
readable message breaks, ``filters`` keeps messages by field, ``tree``,
``jsonview`` and ``summary`` render, ``command`` is the click command.
"""
