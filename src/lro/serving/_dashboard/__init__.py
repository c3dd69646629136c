"""The web dashboard at ``/ui/``: a list of operations and a page for each one.

Static HTML, CSS and JavaScript shipped in the package (no CDN, no build step), fed by
a small JSON API under ``/ui/-/api/``; see ``routes``.
"""
