"""The filter settings' value grammars and what each value matches, pure: requirement lines
(``pins``), ``[blocklist] platforms`` tokens (``platforms``) and the metadata rules
(``matching``). ``config`` parses every filter key into these once; ``filters`` applies them.
"""
