from imports.selectors import project_list_for_user


def projects(request):
    """The projects of the logged-in user, for the project switcher in the header."""
    if not request.user.is_authenticated:
        return {}
    return {"user_projects": project_list_for_user(user=request.user)}
