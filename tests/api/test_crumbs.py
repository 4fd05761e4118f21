"""Every page's breadcrumbs lead somewhere and end with the page itself — never a dangling "›".

Enumerates the app's page routes (a page added tomorrow is covered), signed in as an owner who
is also a platform admin (so the admin pages answer too).
"""

from __future__ import annotations

import re

from bastion.services import annotations, approvals, projects, queue, users
from factories import as_user, make_export, make_side, make_statement, make_user, system
from page_routes import page_gets

PASSWORD = "crumbs password"
# The start page is the root; the others are not pages (single sign-on's callback answers with the sign-in page).
NO_CRUMBS = {"/", "/login", "/login/oidc/{provider}/callback", "/healthz", "/readyz", "/metrics"}
CRUMBS = re.compile(r'<p class="crumbs">(.*?)</p>', re.S)


def test_every_page_ends_its_crumbs_with_itself(client, rt):
    side = make_side(rt, "crumbs", 3, settings={"quality": {"review": "all"}})
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    annotation = annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    person = make_user(rt, "crumbs.admin@example.com", admin=True, password=PASSWORD)
    from bastion.services import workspaces

    workspaces.add_member(system(rt), side.workspace_id, person.id, "owner")
    projects.get_project(as_user(rt, person.id), side.project_id)  # opened: bound
    ids = {
        "workspace_id": side.workspace_id,
        "project_id": side.project_id,
        "task_id": task["id"],
        "annotation_id": annotation["id"],
        "user_id": person.id,
        "export_id": make_export(side.ctx(rt, "owner"), side.project_id),
        "approval_id": approvals.request(side.ctx(rt, "owner"), side.workspace_id, "keys.rotate", {}, "x")["id"],
        "statement_id": make_statement(rt, side.workspace_id, side.users["annotator"]),
    }
    secret, _ = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    checked = []
    for path in page_gets(client.app):
        if path in NO_CRUMBS or "/download" in path or path.endswith("/progress"):
            continue  # a file, a fragment
        url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
        r = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
        if r.status_code != 200 or "<h1" not in r.text:
            continue
        found = CRUMBS.search(r.text)
        assert found, f"{path}: no breadcrumbs"
        crumbs = found.group(1).strip()
        assert not crumbs.endswith("›"), f"{path}: crumbs end with nothing: {crumbs}"
        assert re.search(r'<span aria-current="page">[^<]+</span>$', crumbs), f"{path}: {crumbs}"
        assert crumbs.startswith('<a href="/">Workspaces</a>'), f"{path}: {crumbs}"
        checked.append(path)
    client.cookies.clear()
    for page in (
        "/projects/{project_id}",
        "/projects/{project_id}/tasks",
        "/projects/{project_id}/quality",
        "/people",
        "/workspaces/{workspace_id}/pay",
        "/pay-statements/{statement_id}",
    ):
        assert page in checked, (page, checked)
