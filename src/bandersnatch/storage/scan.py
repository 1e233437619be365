"""One fast pass over a directory tree: every file below it with its size.

``verify`` compares this inventory with the files the pages list, so it must cost one
``scandir`` per directory and one ``stat`` per file, with no per-file path objects. The
filesystem backend's ``file_sizes``; other backends list their objects instead.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from .base import UNREADABLE


def scan_tree(top: str, prefix: str, workers: int = 1) -> dict[str, int]:
    """``{prefix/relative path: size}`` for every file below the directory ``top``.

    With ``workers`` > 1 the top-level directories are scanned in parallel threads (the
    system calls release the GIL)."""
    sizes: dict[str, int] = {}
    subdirs = []
    try:
        with os.scandir(top) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append((entry.path, f"{prefix}/{entry.name}"))
                else:
                    sizes.update(_scan_entry(entry, f"{prefix}/{entry.name}"))
    except (FileNotFoundError, NotADirectoryError):
        return sizes
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="scan") as pool:
        for part in pool.map(lambda d: _scan(*d), subdirs):
            sizes.update(part)
    return sizes


def _scan_entry(entry: os.DirEntry[str], rel: str) -> dict[str, int]:
    try:
        return {rel: entry.stat().st_size}
    except OSError:
        return {rel: UNREADABLE}


def _scan(top: str, prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    stack = [(top, prefix)]
    while stack:
        directory, rel = stack.pop()
        try:
            entries = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                child = f"{rel}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, child))
                    continue
                try:
                    sizes[child] = entry.stat().st_size
                except OSError:
                    sizes[child] = UNREADABLE
    return sizes
