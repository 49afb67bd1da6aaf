"""The main window's pages: New experiment, Monitor, Runs, Studies."""
