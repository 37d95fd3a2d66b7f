"""What a run leaves behind for people and machines: ladder diagrams, JSON and JUnit reports, captures."""
