"""This app: its version (`python run.py --version` prints it beside the platform's). Raise it when you release
a change of the app; the platform's own version is carolbatch/__init__.py's, and carolbatch/CHANGELOG.md says
what changed in it."""

__version__ = "0.1.0"
