"""The mirror on disk: ``publish`` writes pages, JSON copies and the root index;
``readback`` reads the mirror's own pages back (the one reader); ``prune`` removes what a
project no longer lists, and whole projects, within the deletion guard."""
