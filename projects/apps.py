from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        from projects.models import ProjectTool
        from projects.tools import ToolTile, register_tile

        register_tile(
            ToolTile(
                key="admin",
                order=10,
                url_name="project_admin",
                title=lambda company: "Admin",
                description=lambda company: "Project settings, sub jobs",
                visible=lambda access: access.can_view(ProjectTool.ADMIN),
            )
        )
