"""Where skills live, and finding them: ``<root>/<name>/SKILL.md`` under each root.

The roots, in precedence order (:func:`skill_roots`): the user's own first, then the
project's, so that a cloned repository can never replace a skill the user relies on:

1. ``$HERMES_MCP_HOME/skills`` (the user's and the agent's own; the only root
   ``skill_manage`` writes to);
2. ``~/.claude/skills`` (read-only, for compatibility);
3. for each workspace root: ``<workspace>/.agents/skills``, then
   ``<workspace>/.claude/skills`` (read-only).

When two roots hold a skill of the same name, the earlier root's wins and the other is
*shadowed* (``doctor`` and ``skills list --json`` name both). A skill that breaks the
format, or that cannot be read, is a :class:`Problem`: reported, skipped, never fatal.

Skill folders are untrusted input. A root itself may be a symlink (resolved once). A
skill folder that is a symlink (skill installers link one folder into each agent's root)
is followed in the user's roots, and in a project's only to a folder inside its
workspace; elsewhere it is a problem. Below a skill's folder nothing is followed: a
``SKILL.md`` that is a symlink, a FIFO or a device is a problem, not a skill
(``tools/paths.py``'s no-follow opening, one component at a time).

Only the head of each ``SKILL.md`` is read here (the front matter); parsed front
matters are cached by file identity (device, inode, size, modification and change
times), so listing again costs one ``open`` and ``fstat`` per skill.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tools import paths
from tools.skills.format import (
    MAX_FRONT_MATTER,
    MAX_SKILL_BYTES,
    Front,
    SkillFormatError,
    name_problem,
    parse,
)

SKILL_FILE = "SKILL.md"
MAX_SKILLS_PER_ROOT = 1000  # folders looked at in one root
_HEAD = MAX_FRONT_MATTER + 4096
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Scope = Literal["user", "project"]


@dataclass(frozen=True)
class Root:
    """One place skills live: ``path`` as configured (it may not exist). A skill folder
    that is a symlink is followed only to a folder inside ``within`` (a project's root:
    its workspace); ``None`` (the user's roots) follows it anywhere."""

    path: Path
    scope: Scope
    label: str  # "hermes", "claude", "agents (project)", "claude (project)"
    writable: bool = False
    within: Path | None = None


@dataclass(frozen=True)
class Skill:
    front: Front
    root: Root
    base: Path  # the root, resolved
    linked: Path | None = None  # the folder a symlinked skill folder leads to (resolved)

    @property
    def folder(self) -> Path:
        return self.linked if self.linked is not None else self.base / self.front.name

    @property
    def name(self) -> str:
        return self.front.name

    @property
    def description(self) -> str:
        return self.front.description

    @property
    def file(self) -> Path:
        return self.folder / SKILL_FILE


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class SkillSet:
    """What discovery found: the skills (one per name, the winning root's), those
    shadowed by an earlier root, and the problems."""

    skills: tuple[Skill, ...] = ()
    shadowed: tuple[Skill, ...] = ()
    problems: tuple[Problem, ...] = ()

    def get(self, name: str) -> Skill | None:
        return next((s for s in self.skills if s.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.skills)

    def signature(self) -> tuple[tuple[str, str, str], ...]:
        """What a list of prompts or commands shows (name, description, hint): equal
        signatures need no ``list_changed``."""
        return tuple((s.name, s.description, s.front.argument_hint or "") for s in self.skills)


def user_root(home: Path) -> Root:
    return Root(home / "skills", "user", "hermes", writable=True)


def skill_roots(
    home: Path | None, workspaces: Sequence[Path], *, user_home: Path | None = None
) -> tuple[Root, ...]:
    """The roots in precedence order (see the module docstring); ``home`` is
    ``$HERMES_MCP_HOME`` (``None``: no user root), ``user_home`` the user's home
    directory (default ``~``)."""
    out: list[Root] = []
    if home is not None:
        out.append(user_root(home))
    mine = user_home if user_home is not None else Path(os.path.expanduser("~"))
    out.append(Root(mine / ".claude" / "skills", "user", "claude"))
    for workspace in workspaces:
        agents, claude = workspace / ".agents" / "skills", workspace / ".claude" / "skills"
        out.append(Root(agents, "project", "agents (project)", within=workspace))
        out.append(Root(claude, "project", "claude (project)", within=workspace))
    seen: set[Path] = set()
    unique: list[Root] = []
    for root in out:  # a workspace that is the home directory lists ~/.claude once
        key = paths.realpath(root.path)
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return tuple(unique)


def discover(roots: Sequence[Root]) -> SkillSet:
    """Every skill under ``roots`` (blocking: call it in a worker thread from async code)."""
    winners: dict[str, Skill] = {}
    shadowed: list[Skill] = []
    problems: list[Problem] = []
    for root in roots:
        try:
            for found in _scan(root):
                if isinstance(found, Problem):
                    problems.append(found)
                elif found.name not in winners:
                    winners[found.name] = found
                elif winners[found.name].folder != found.folder:  # not a link to the same
                    shadowed.append(found)
        except OSError as exc:  # a root we may not read: reported, never fatal
            problems.append(Problem(paths.realpath(root.path), f"cannot read: {exc}"))
    skills = tuple(sorted(winners.values(), key=lambda s: s.name))
    return SkillSet(skills, tuple(shadowed), tuple(problems))


@contextlib.contextmanager
def open_root(root: Path) -> Iterator[int | None]:
    """A readable descriptor on the resolved ``root`` (``None`` when it does not exist),
    reached with no symlink followed on the way."""
    resolved = paths.realpath(root)
    try:
        handle = paths.open_directory(resolved)
    except (FileNotFoundError, NotADirectoryError, paths.PathChangedError):
        yield None
        return
    with readable(handle) as fd:
        yield fd


@contextlib.contextmanager
def readable(handle: int) -> Iterator[int]:
    """A readable descriptor on the directory ``handle`` (``paths.open_directory``'s,
    which it closes), closed on leaving."""
    try:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=handle)
    finally:
        os.close(handle)
    try:
        yield fd
    finally:
        os.close(fd)


def open_skill(skill: Skill) -> int:
    """A readable descriptor on the skill's folder: below its root without following a
    link, or the resolved folder a followed symlink leads to (no link on the way)."""
    if skill.linked is None:
        with open_root(skill.root.path) as root:
            if root is None:
                raise FileNotFoundError(skill.folder)
            return open_folder(root, skill.name)
    handle = paths.open_directory(skill.linked)
    try:
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=handle)
    finally:
        os.close(handle)


def open_folder(dir_fd: int, name: str) -> int:
    """The skill folder ``name`` below ``dir_fd``, never through a symlink
    (:class:`paths.SpecialFileError` when it is one, NotADirectoryError for a file)."""
    try:
        return os.open(name, _DIR, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the folder is a symlink
            raise paths.SpecialFileError(name, stat.S_IFLNK) from None
        raise


def _scan(root: Root) -> Iterator[Skill | Problem]:
    base = paths.realpath(root.path)
    with open_root(root.path) as fd:
        if fd is None:
            return
        try:
            with os.scandir(fd) as listing:  # the entries' types without a stat each
                entries = sorted(
                    (e.name, e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in listing
                )
        except OSError as exc:
            yield Problem(base, f"cannot list: {exc.strerror}")
            return
        looked = 0
        for name, link, folder in entries:
            if name.startswith(".") or not (folder or link):
                continue  # a README beside the skills
            looked += 1
            if looked > MAX_SKILLS_PER_ROOT:
                yield Problem(base, f"more than {MAX_SKILLS_PER_ROOT} folders; the rest skipped")
                return
            yield _linked(root, base, name) if link else _load(root, base, fd, name)


def _linked(root: Root, base: Path, name: str) -> Skill | Problem:
    """A skill folder that is a symlink: followed to a folder inside ``root.within``
    (anywhere for the user's roots), then read like any other."""
    target = paths.realpath(base / name)
    if root.within is not None and not paths.is_within(target, paths.realpath(root.within)):
        return Problem(base / name, f"a symlink out of the workspace (to {target}); not followed")
    if not os.path.isdir(target):
        return Problem(base / name, f"a symlink to {target}, which is not a folder")
    try:
        handle = paths.open_directory(target.parent)
    except (OSError, paths.PathChangedError) as exc:
        return Problem(base / name, f"a symlink to {target}: {exc}")
    try:
        skill = _load(root, target.parent, handle, target.name, expected=name)
    finally:
        os.close(handle)
    if isinstance(skill, Skill):
        return Skill(skill.front, root, base, linked=target)
    return skill


def _load(
    root: Root, base: Path, dir_fd: int, name: str, *, expected: str | None = None
) -> Skill | Problem:
    """The skill in folder ``name`` below ``dir_fd``; its front matter's name must be
    ``expected`` (a symlink's own name) or else the folder's."""
    wanted = expected or name
    problem = name_problem(wanted)
    if problem is not None:
        return Problem(base / wanted, f"folder {problem}")
    try:
        front = read_front(dir_fd, name, wanted)
    except FileNotFoundError:
        return Problem(base / name, f"no {SKILL_FILE}")
    except (SkillFormatError, paths.SpecialFileError, NotADirectoryError) as exc:
        return Problem(base / name / SKILL_FILE, str(exc))
    except OSError as exc:
        return Problem(base / name / SKILL_FILE, f"cannot read: {exc.strerror or exc}")
    return Skill(front, root, base)


_CACHE: OrderedDict[tuple[int, ...], Front | SkillFormatError] = OrderedDict()
_CACHE_SIZE = 4096


def read_front(dir_fd: int, name: str, expected: str | None = None) -> Front:
    """The checked front matter of ``<dir_fd>/<name>/SKILL.md`` (no symlink followed),
    whose name must be ``expected`` (default: the folder's name)."""
    expected = expected or name
    folder = open_folder(dir_fd, name)
    try:
        fd = paths.open_regular(SKILL_FILE, follow_symlinks=False, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        if info.st_size > MAX_SKILL_BYTES:
            raise SkillFormatError(f"{SKILL_FILE} is larger than {MAX_SKILL_BYTES} bytes")
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        cached = _CACHE.get(key)
        if cached is None:
            head = paths.read_at_most(fd, _HEAD)
            try:
                cached = parse(decode(head, complete=len(head) < _HEAD))[0]
            except SkillFormatError as exc:
                cached = exc
            _CACHE[key] = cached
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    finally:
        os.close(fd)
    if isinstance(cached, SkillFormatError):
        raise cached
    if cached.name != expected:
        raise SkillFormatError(f"name {cached.name!r} differs from its folder's name {expected!r}")
    return cached


def decode(data: bytes, *, complete: bool = True) -> str:
    """UTF-8 text; a head cut mid-character loses that character only."""
    if not complete:
        data = data[: data.rfind(b"\n") + 1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkillFormatError(f"not UTF-8 text (byte {exc.start})") from None
