from bastion.web.markdown import render_markdown


def test_raw_html_and_script_urls_are_neutralised():
    html = str(render_markdown("<script>alert(1)</script> **bold** [x](javascript:alert(1)) <img src=x onerror=y>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in html
    assert 'href="javascript' not in html
    assert "<img" not in html


def test_links_are_marked_noopener():
    html = str(render_markdown("[docs](https://example.com)"))
    assert 'rel="noopener noreferrer nofollow"' in html
