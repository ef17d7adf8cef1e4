"""The live console (``tuiq top``): Textual app, views, screens and the key table.

Importing it pulls in Textual, so nothing on the worker's path imports it.
"""
