"""Graph generators and saved graphs the project makes itself (installed as moccasin_graphs)."""
