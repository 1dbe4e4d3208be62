"""A local emulator of a Socrata (Tyler Data & Insights) portal.

A separate component written from Socrata's documented API: it never imports ``opendata``.
"""
