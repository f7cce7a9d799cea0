from core.tenancy import current_membership


def tenancy(request):
    membership = current_membership(request) if hasattr(request, "membership") else None
    return {
        "current_membership": membership,
        "current_account": membership.account if membership else None,
    }
