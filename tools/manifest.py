"""`python -m tools.manifest`: point manifest.json's Docker build at the Git repository Carol builds from.

Carol builds the app's image (both processes run it) from `docker[].gitRepoUrl` at `gitBranch`, folder `gitPath`, file
`gitDockerfileName`. By default the URL and branch are this clone's `origin` remote and current
branch, so after pushing the project the manifest names exactly what was pushed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
_SSH_REMOTE = re.compile(r"^(?:ssh://)?git@(?P<host>[^:/]+)[:/](?P<path>.+?)(?:\.git)?/?$")
_HTTPS_REMOTE = re.compile(r"^https://(?:[^@/]+@)?(?P<host>[^/]+)/(?P<path>.+?)(?:\.git)?/?$")


def https_url(remote: str) -> str:
    """The HTTPS address of a Git remote (`git@github.com:o/r.git` -> `https://github.com/o/r`).

    Raises:
        ValueError: the remote is neither an SSH nor an HTTPS Git address.
    """
    match = _SSH_REMOTE.match(remote.strip()) or _HTTPS_REMOTE.match(remote.strip())
    if not match or "/" not in match["path"]:
        raise ValueError(f"{remote!r} is not the address of a Git repository (https://HOST/OWNER/NAME)")
    return f"https://{match['host']}/{match['path']}"


def git(project: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def point_manifest(manifest: dict, repo_url: str, branch: str) -> dict:
    """A copy of `manifest` whose Docker builds come from `repo_url` at `branch`."""
    builds = [{**build, "gitRepoUrl": repo_url, "gitBranch": branch} for build in manifest["docker"]]
    return {**manifest, "docker": builds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.manifest", description=__doc__.splitlines()[0])
    parser.add_argument("--repo-url", help="the repository's address (default: this clone's origin remote)")
    parser.add_argument("--branch", help="the branch Carol builds (default: the current branch)")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        repo_url = https_url(args.repo_url or git(args.project, "remote", "get-url", "origin"))
        branch = args.branch or git(args.project, "symbolic-ref", "--short", "HEAD")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = args.project / "manifest.json"
    manifest = point_manifest(json.loads(path.read_text()), repo_url, branch)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.replace(temporary, path)
    print(f"manifest.json: Carol builds {', '.join(b['dockerName'] for b in manifest['docker'])} "
          f"from {repo_url} branch {branch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
