"""`%junis WORD ...`: the line commands, one function each (`router.py` lists them; the
modules beside it hold them, by what they touch), all parsed by `parser.py`."""
