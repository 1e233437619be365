"""Serving a mirror to pip, uv, poetry and pdm, and checking any server that does.

``negotiation`` (pure PEP 691 content negotiation), ``routes`` (what a URL asks for),
``files`` (opening a file inside ``web/``, ranges, validators), ``server`` (the stdlib
threaded HTTP server behind ``bandersnatch serve``), ``clients`` (what each installer sends
and understands) and ``check`` (``bandersnatch check-server``).
"""
