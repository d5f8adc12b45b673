"""The application: settings, command line, answering, the console and the Discord bot."""
