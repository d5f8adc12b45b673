"""The application: settings, command line, and (later) answering, console and Discord."""
