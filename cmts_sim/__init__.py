"""A simulated PacketCable DQoS CMTS (the COPS PEP): gates, timers, admission, the modem side."""
