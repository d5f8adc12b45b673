"""The front ends over one engine: the command line, the console and Discord."""
