"""bastion-likert: rate a text on a Likert scale ("Strongly disagree" … "Strongly agree"), one key per point."""

from .tasktype import Likert, LikertConfig

__all__ = ["Likert", "LikertConfig"]
