"""JupyterHub's configuration of the local hub (`make hub`); hub/run.py sets the MLMAT_HUB_* variables.

DummyAuthenticator (one shared password), LocalProcessSpawner (as root: each account a Unix user),
JupyterLab, nbgrader's server extensions (formgrader for the instructor, the Assignments tab for all)
and the course environment as the kernel. Not for a real hub: see the README ("A real hub's
configuration") for what to carry over.
"""

import os
import shlex

c = get_config()  # noqa: F821 (JupyterHub provides get_config)
env = os.environ
hub_dir = env["MLMAT_HUB_DIR"]
course = env["MLMAT_HUB_COURSE"]
course_id = env["MLMAT_HUB_COURSE_ID"]
instructor = env["MLMAT_HUB_INSTRUCTOR"]
students = env["MLMAT_HUB_STUDENTS"].split(",")
python = env["MLMAT_HUB_USER_PYTHON"]

c.JupyterHub.ip = env["MLMAT_HUB_IP"]
c.JupyterHub.port = int(env["MLMAT_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
# the hub's own port and the proxy's API beside the public one (so that HUB_PORT alone picks a free set)
c.JupyterHub.hub_port = c.JupyterHub.port + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{c.JupyterHub.port + 2}"
c.JupyterHub.db_url = f"sqlite:///{hub_dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{hub_dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{hub_dir}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = [env["MLMAT_HUB_PROXY"]]
c.ConfigurableHTTPProxy.pid_file = f"{hub_dir}/proxy.pid"
# the proxy and the servers go with the hub: nothing is left running after Ctrl-C
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = env["MLMAT_HUB_PASSWORD"]
c.Authenticator.allowed_users = {instructor, *students}
c.Authenticator.admin_users = {instructor}
# the groups of nbgrader's hub set-up (formgrader's graders, the course's students): on a real hub they
# give the instructor access to the course's formgrader service and list the course for its students
c.JupyterHub.load_groups = {
    f"formgrade-{course_id}": {"users": [instructor]},
    f"nbgrader-{course_id}": {"users": students},
}

if os.geteuid() == 0:
    c.JupyterHub.spawner_class = "localprocess"
else:
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = f"{hub_dir}/home/{{username}}"

c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
user_bin = os.path.dirname(python)
c.Spawner.environment = {
    # the users' interpreter first: its kernel is the course environment (jupyter_client runs a
    # kernelspec's `python` as the server's own interpreter)
    "PATH": f"{user_bin}:/usr/local/bin:/usr/bin:/bin",
    # nbgrader's extensions (lab extensions, server extension switches) are the toolkit venv's; the
    # exchange and the course id are in the hub's nbgrader_config.py
    "JUPYTER_PATH": env["MLMAT_HUB_JUPYTER_DATA"],
    "JUPYTER_CONFIG_PATH": f"{hub_dir}/config:{env['MLMAT_HUB_JUPYTER_CONFIG']}",
    "MATMINER_DATA": env.get("MATMINER_DATA", ""),
}
singleuser = [python, "-m", "jupyterhub.singleuser"]
c.Spawner.cmd = singleuser


def start_in_course(spawner):
    """The instructor's server runs in the course folder, where formgrader finds the course (its
    nbgrader_config.py, gradebook.db, source/ and submitted/); the students' in their homes."""
    if spawner.user.name == instructor:
        script = (
            f"cd {shlex.quote(course)} && exec "
            + " ".join(shlex.quote(part) for part in singleuser)
            + ' "$@"'
        )
        spawner.cmd = ["/bin/sh", "-c", script, "singleuser"]
        spawner.notebook_dir = course
    else:
        spawner.cmd = singleuser


c.Spawner.pre_spawn_hook = start_in_course
