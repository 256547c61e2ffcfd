"""A local Carol stand-in to run the app in Carol mode on one machine: `python -m sandbox`."""
