"""Which sessions and how to read many: windows, criteria, the scan, cursors, fetching, export."""
