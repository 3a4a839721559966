"""Command-line tools (`astrolink4-charts`, `astrolink4-compensation`) and the offline analysis they drive.

Nothing here is imported by a driver: a tool may import the drivers' modules (the log's columns, the compensation
fit), never the other way round, so matplotlib and the rest of what a tool needs stay out of the driver process.
"""
