"""The one permission table of the console: what each kind of route needs, per role. Every
route names its `Access`; one middleware checks it on every request (console.site)."""
from __future__ import annotations

from enum import Enum

from flows.campaigns.roles import Permission, Role, can


class Access(Enum):
    PUBLIC = "public"  # the sign-in pages: nobody needs to be signed in
    SIGNED_IN = "signed_in"  # any signed-in account, 無權限 included (sign-out, the empty home)
    VIEW = "view"  # campaign lists, details, statistics
    EDIT = "edit"  # create, save, publish, pause, copy, uploads of images and coupons
    DELETE = "delete"  # delete a draft
    ADMIN = "admin"  # 管理員 only: the audit log
    REVIEW = "review"  # decide in the review queue: the three editing roles and 客服經理 (issue 30)


_PERMISSION = {Access.VIEW: Permission.VIEW, Access.EDIT: Permission.EDIT, Access.DELETE: Permission.DELETE,
               Access.REVIEW: Permission.REVIEW}


def allowed(role: Role | None, access: Access) -> bool:
    """Whether an account of `role` (None: nobody signed in) may use a route needing `access`."""
    if access is Access.PUBLIC:
        return True
    if role is None:
        return False
    if access is Access.SIGNED_IN:
        return True
    if access is Access.ADMIN:
        return role is Role.ADMIN
    return can(role, _PERMISSION[access])
