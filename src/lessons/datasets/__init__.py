"""Offline data sets, one module per kind (``images``, ``text``, ``series``, ``cifar`` ...).

Nothing here downloads: data is generated in code, read from an installed package, or read from a small
file committed under ``lessons/data/`` (sources and licences in its README).
"""
