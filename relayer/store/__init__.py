"""Redis store: a cache and coordination point (signatures, cursors, locks, alarms), never the truth."""
