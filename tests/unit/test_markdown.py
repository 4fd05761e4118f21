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


def test_headings_shift_down_under_a_page_heading_and_stop_at_h6():
    html = str(render_markdown("# Title\n\n## Part\n\n###### Deep", shift=1))
    assert "<h2>Title</h2>" in html and "<h3>Part</h3>" in html and "<h6>Deep</h6>" in html
    assert "<h1>" not in html
    assert str(render_markdown("# Title")) == "<h1>Title</h1>\n"
