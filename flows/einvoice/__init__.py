"""Taiwan e-invoice codes: the data they carry, how to parse them, and how photos are read."""
