"""The simple repository API's formats (PEP 503 HTML, PEP 691 JSON), pure, both directions.

``formats`` names the content types and page files, ``render`` writes a project's pages,
``root`` writes (and splices) the root index, ``parse`` reads back the pages this tool
wrote. Nothing here touches disk or network.
"""
