"""Class mode (docs/API.md, Classes): a teacher's scene followed by every student,
a challenge whose submissions the server scores itself, a live leaderboard.

``tables`` declares the state, ``migrations`` creates it, ``store`` reads and
writes it in transactions, ``broker`` tells every replica what changed,
``followers`` pushes it to the sockets of this one.
"""
