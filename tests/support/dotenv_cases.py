"""Tricky `.env` lines and the value Compose reads from each (`docker compose config`)."""

# (line in .env, the value Compose reads for A, with B=b set above it)
TRICKY = [
    ("A=5001 # mine", "5001"),
    ("A='single # not a comment'", "single # not a comment"),
    ('A="double # not a comment"', "double # not a comment"),
    ('A="a\\"b"', 'a"b'),
    ('A="line\\nbreak"', "line\nbreak"),
    ("A='no \\n escape'", "no \\n escape"),
    ("export A=exported", "exported"),
    ("A=", ""),
    ("A = spaced", "spaced"),
    ("A=trailing   ", "trailing"),
    ("A=${B}-x", "b-x"),
]
