"""Catalogs: one file listing audiences, each with its own sessions, page, feed and playlist.

A catalog (catalogs/*.yaml, docs/catalog-format.md) names audiences (a physiotherapist's
clients, a platform's listeners); each audience lists routines, each with overrides of any
build option. Building it (build.py) speaks every line once for the whole catalog, renders a
session shared by several audiences once and links it into the others, and writes each
audience into a directory of its own under an unguessable token (tokens.py).

    load.py     the catalog file -> Catalog (every problem at file:line:col)
    schema.py   its keys, read with the routine's node and field readers
    model.py    Catalog, Audience, Entry
    tokens.py   the token of each audience's directory, kept in the output directory
    sessions.py which session each audience gets, where, and which are rendered
    build.py    speech, renders, links, pruning and publishing of every audience
"""
