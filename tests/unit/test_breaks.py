"""Names that break after their separators, escaped."""

from hubdesk.words import breakable


def test_a_wbr_after_each_separator_and_none_at_the_end():
    assert breakable("project-alpha_2.lab") == "project-<wbr>alpha_<wbr>2.<wbr>lab"
    assert breakable("labs-") == "labs-"
    assert breakable("labs") == "labs"
    assert breakable("") == ""


def test_the_name_is_escaped():
    assert breakable("<b>-x") == "&lt;b&gt;-<wbr>x"
