"""The Companion API: the client, one request's machinery, the wire models, the inbound boundary."""
