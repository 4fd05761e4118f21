"""The role x action table, as data: each role's reach, and read-only tokens."""

import pytest

from bastion.access import ADMIN_WORKSPACE_ACTIONS, POLICY, Action, Actor
from bastion.domain.workspaces import Role


def test_owner_can_do_everything_and_auditor_never_sees_content():
    assert POLICY[Role.OWNER] == frozenset(Action)
    content = {Action.TASK_BROWSE, Action.TASK_WORK, Action.ANNOTATION_BROWSE, Action.EXPORT, Action.MODEL_USE}
    assert not POLICY[Role.AUDITOR] & content
    assert not ADMIN_WORKSPACE_ACTIONS & content


def test_workforce_managers_see_people_never_content():
    """Time, pay and credentials only: nothing that reads or changes tasks, answers, exports or quality."""
    held = POLICY[Role.WORKFORCE_MANAGER]
    assert {Action.PEOPLE_READ, Action.PEOPLE_MANAGE} <= held
    content = {
        Action.TASK_BROWSE,
        Action.TASK_WORK,
        Action.TASK_IMPORT,
        Action.TASK_MANAGE,
        Action.ANNOTATION_BROWSE,
        Action.ANNOTATION_REVIEW,
        Action.ANNOTATION_IMPORT,
        Action.QUESTION_ANSWER,
        Action.QUALITY_READ,
        Action.EXPORT,
        Action.MODEL_USE,
        Action.AUDIT_READ,
        Action.LEAKS_TRACE,
        Action.REDACTION_REIDENTIFY,
    }
    assert not held & content
    # annotators, reviewers and auditors see nobody's pay
    for role in (Role.ANNOTATOR, Role.REVIEWER, Role.AUDITOR):
        assert not POLICY[role] & {Action.PEOPLE_READ, Action.PEOPLE_MANAGE}


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_its_workspace(role):
    assert Action.WORKSPACE_READ in POLICY[role]


def test_annotators_only_work():
    assert POLICY[Role.ANNOTATOR] == {Action.WORKSPACE_READ, Action.PROJECT_READ, Action.TASK_WORK, Action.MODEL_USE}


def test_system_actor():
    actor = Actor.system()
    assert actor.is_system and actor.is_admin and not actor.read_only
