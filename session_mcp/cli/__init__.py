"""The `session-mcp` command line: flags to settings, the server, and the commands that need no host."""
