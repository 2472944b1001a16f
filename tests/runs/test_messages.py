from core.runs.messages import one_line


def test_one_line_keeps_the_first_line_within_its_limit_and_names_silent_errors():
    assert one_line(ValueError("bad value\n  at line 3\n  ...")) == "bad value"
    assert one_line(RuntimeError("x" * 500), 160) == "x" * 160
    assert one_line(KeyError()) == "KeyError"  # says nothing: its type is the message
    assert one_line(OSError("disk full\ndetails"), named=True) == "OSError: disk full"
    assert one_line(TimeoutError(), named=True) == "TimeoutError"
    assert one_line("usage: x\nmore") == "usage: x" and one_line("") == "error"
