"""``verify``: check every stored file and page against the truth, repair what is wrong.

``plan`` is pure (what a project should have, what is wrong, the page to render),
``project`` verifies one project (its truth, then files, then pages), ``files`` checks and
repairs stored files, ``checkpoint`` lets a killed verify resume, ``report`` keeps the books.
``commands.verify`` wires them to the mirror.
"""
