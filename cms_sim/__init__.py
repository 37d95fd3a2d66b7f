"""pktcable-sim's Gate Controller side: the ``cms-sim`` command, its COPS decoder and its pcap writer."""
