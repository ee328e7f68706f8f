"""The session store: closed sessions kept, per tenant, for search and (later) every reading tool.

``base`` says what a store offers (``SessionStore``, bound to one tenant); ``sqlite`` is the
engine of the standard library; ``search`` reads the search syntax; ``sync`` fills the store from
the Companion API.
"""
