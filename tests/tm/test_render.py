"""Message HTML is bleach's: escaped, http(s) links only, rel nofollow noopener."""

import pytest

from tm.render import message_html


def test_links_are_made_clickable_and_safe():
    html = message_html("read https://example.org/a?b=1&c=2 now")
    assert html == ('read <a href="https://example.org/a?b=1&amp;c=2" '
                    'rel="nofollow noopener noreferrer" target="_blank">'
                    'https://example.org/a?b=1&amp;c=2</a> now')


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    '"><svg onload=alert(1)>',
    "<iframe src=//evil.example></iframe>",
])
def test_markup_comes_out_as_text(text):
    html = message_html(text)
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert "<iframe" not in html
    assert '<a href="javascript' not in html and '<a href="data' not in html


def test_plain_text_is_only_escaped():
    assert message_html("a < b & \"c\"") == 'a &lt; b &amp; "c"'
