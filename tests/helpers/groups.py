"""Groups of the session's hub through hubdesk's pages: what group tests share."""

import html
import re

from helpers.stack import csrf_token


def members(stack, group):
    return sorted(stack.api.get_group(group)["users"])


def post(session, stack, path, data, files=None, page=None):
    """POST a hubdesk form with the CSRF token of ``page`` (default: the home page)."""
    token = csrf_token(session.get(stack.url(page or "")).text)
    return session.post(stack.url(path), data={"csrf_token": token, **data}, files=files)


def confirm_form(page):
    """The hidden fields of a confirmation page's first form."""
    fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    return {k: html.unescape(v) for k, v in fields.items()}
