"""Which sessions and how to read many: windows, criteria, the scan, cursors, one ``select()``, fetching, export."""
