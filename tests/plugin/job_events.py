"""Drain a widget job the way its thread worker does, keeping what it yields (no Qt needed)."""


def drain(generator):
    """(every yielded event, the returned outcome) of a job generator."""
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as finished:
            return events, finished.value
