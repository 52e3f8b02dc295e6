#!/usr/bin/python3
"""What the Dockerfile and docker-compose.yml ask of the image, for tools/check-image.sh.

Docker cannot run on CI's machines, so check-image.sh rebuilds the image's file
systems with mmdebstrap and replays the Dockerfile's steps in a chroot. This
reads the two files (the one source of truth) and prints bash assignments
for it to eval:

  image_spec.py dockerfile DOCKERFILE   the build stage's and the runtime
                                        stage's steps, in order
  image_spec.py compose COMPOSE_FILE    each service's command, health check
                                        and HTTP port
  image_spec.py context DIR             the build context Docker would send
                                        (.dockerignore applied), NUL-separated

Whatever it cannot reproduce faithfully (an instruction it does not know, an
apt-get RUN that does more than install, a service built from elsewhere) is an
error, so that the check never passes on a file it did not understand.
"""

import json
import os
import re
import shlex
import sys

import yaml


def fail(message):
    print(f"image_spec.py: {message}", file=sys.stderr)
    sys.exit(1)


def bash_array(name, values):
    return f"{name}=({' '.join(shlex.quote(v) for v in values)})"


def bash_scalar(name, value):
    return f"{name}={shlex.quote(value)}"


# --- Dockerfile ------------------------------------------------------------------------------------


def logical_lines(text):
    """Instructions with their continuation lines joined. As Docker does,
    comment lines are dropped, also in the middle of a continued instruction."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def exec_or_shell_form(args):
    """CMD, HEALTHCHECK CMD, RUN: a JSON array (exec form) or a string run by /bin/sh -c."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except json.JSONDecodeError as e:
            fail(f"not a JSON array: {args} ({e})")
        if not all(isinstance(v, str) for v in value):
            fail(f"not an array of strings: {args}")
        return value
    return ["/bin/sh", "-c", args]


def split_flags(args):
    """--name=value flags in front of an instruction's arguments."""
    flags = {}
    words = args.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, " ".join(words)


APT_STEP = re.compile(
    r"^(apt-get update"
    r"|(DEBIAN_FRONTEND=noninteractive )?apt-get install (-y |--no-install-recommends )+(?P<packages>[a-z0-9][a-z0-9.+ -]*)"
    r"|rm -rf /var/lib/apt/lists/\*)$")


def apt_packages(command):
    """The packages of a RUN that installs with apt-get, or None for any other RUN.
    mmdebstrap installs them in the check, so such a RUN must do nothing else."""
    if "apt-get" not in command:
        return None
    packages = []
    for part in command.split("&&"):
        m = APT_STEP.match(" ".join(part.split()))
        if not m:
            fail(f"an apt-get RUN may only update, install and remove the lists; cannot reproduce: {part.strip()}")
        if m.group("packages"):
            packages += [word for word in m.group("packages").split() if not word.startswith("-")]
    if not packages:
        fail(f"an apt-get RUN that installs nothing: {command}")
    return packages


def parse_stages(text):
    stages = []
    for line in logical_lines(text):
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else ""
            stages.append({"base": words[0], "name": name, "steps": []})
            continue
        if not stages:
            fail(f"{instruction} before FROM")
        stages[-1]["steps"].append((instruction, args))
    return stages


def stage_steps(prefix, stage, runtime):
    """Bash arrays STEP_KIND, STEP_ARG, STEP_DEST, STEP_FROM (one entry per step)
    plus the stage's settings, all named PREFIX_*."""
    kinds, args_, dests, froms = [], [], [], []
    out = [bash_scalar(f"{prefix}_BASE", stage["base"])]
    packages, user = [], ""

    def step(kind, arg="", dest="", source_stage=""):
        kinds.append(kind)
        args_.append(arg)
        dests.append(dest)
        froms.append(source_stage)

    for instruction, args in stage["steps"]:
        if instruction == "RUN":
            if user:
                fail("a RUN after USER: the check runs RUN steps as root")
            if args.startswith("["):
                fail(f"RUN in exec form: {args}")
            installs = apt_packages(args)
            if installs is not None:
                packages += installs
                step("apt", " ".join(installs))
            elif args.startswith("cmake --build"):
                # The compile itself: CI's build/ holds the same targets, built from
                # the same sources; the check only proves this step would start.
                step("compile", args)
            else:
                step("run", args)
        elif instruction == "COPY":
            flags, rest = split_flags(args)
            if set(flags) - {"from"}:
                fail(f"COPY flags the check does not reproduce: {sorted(set(flags) - {'from'})}")
            words = json.loads(rest) if rest.startswith("[") else rest.split()
            if len(words) < 2:
                fail(f"COPY needs a source and a destination: {args}")
            *sources, dest = words
            step("copy", "\n".join(sources), dest, flags.get("from", ""))
        elif instruction == "WORKDIR":
            step("workdir", args)
        elif instruction == "USER":
            user = args
            step("user", args)
        elif instruction == "VOLUME":
            for volume in json.loads(args) if args.startswith("[") else args.split():
                step("volume", volume)
        elif instruction == "EXPOSE":
            for port in args.split():
                number, _, proto = port.partition("/")
                if proto not in ("", "tcp") or not number.isdigit():
                    fail(f"EXPOSE of something other than a TCP port: {port}")
                step("expose", number)
        elif instruction == "HEALTHCHECK":
            flags, rest = split_flags(args)
            if not rest.upper().startswith("CMD "):
                fail(f"HEALTHCHECK without CMD: {args}")
            out.append(bash_array(f"{prefix}_HEALTHCHECK", exec_or_shell_form(rest[4:].strip())))
        elif instruction == "CMD":
            out.append(bash_array(f"{prefix}_CMD", exec_or_shell_form(args)))
        else:
            fail(f"{instruction} in the {'runtime' if runtime else 'build'} stage: check-image.sh does not "
                 "reproduce it yet (teach tools/image/image_spec.py and the check)")
    out += [bash_array(f"{prefix}_STEP_KIND", kinds), bash_array(f"{prefix}_STEP_ARG", args_),
            bash_array(f"{prefix}_STEP_DEST", dests), bash_array(f"{prefix}_STEP_FROM", froms),
            bash_array(f"{prefix}_PACKAGES", packages), bash_scalar(f"{prefix}_USER", user or "root")]
    return out


def dockerfile(path):
    with open(path) as f:
        stages = parse_stages(f.read())
    if len(stages) != 2 or stages[0]["name"] != "build":
        fail("expected two stages: 'FROM ... AS build', then the runtime stage")
    lines = stage_steps("BUILD", stages[0], runtime=False) + stage_steps("RUNTIME", stages[1], runtime=True)
    if not any(line.startswith("RUNTIME_CMD=") for line in lines):
        fail("the runtime stage has no CMD")
    print("\n".join(lines))


# --- docker-compose.yml --------------------------------------------------------------------------


def compose(path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    names = list(spec.get("services", {}))
    if not names:
        fail(f"{path} has no services")
    out = [bash_array("COMPOSE_SERVICES", names)]
    for i, name in enumerate(names):
        service = spec["services"][name]
        build = service.get("build")
        context = build.get("context") if isinstance(build, dict) else build
        if context != "." or (isinstance(build, dict) and build.get("dockerfile", "Dockerfile") != "Dockerfile"):
            fail(f"service {name} is not built from ./Dockerfile: the check proves that image only")
        unknown = set(service) - {"build", "image", "restart", "command", "volumes", "ports", "depends_on",
                                  "healthcheck"}
        if unknown:
            fail(f"service {name}: check-image.sh does not reproduce {sorted(unknown)}")
        command = service.get("command")
        if command is None:
            fail(f"service {name} has no command (the check reads it from here, not the image's CMD)")
        if isinstance(command, str):
            command = shlex.split(command)
        out.append(bash_array(f"COMPOSE_COMMAND_{i}", command))
        # The image's HEALTHCHECK unless the service has its own.
        health = service.get("healthcheck")
        if health is not None:
            if health.get("disable"):
                fail(f"service {name} turns its health check off")
            test = health["test"]
            if isinstance(test, str):
                test = ["CMD-SHELL", test]
            if test[0] == "CMD":
                test = test[1:]
            elif test[0] == "CMD-SHELL" and len(test) == 2:
                test = ["/bin/sh", "-c", test[1]]
            else:
                fail(f"service {name}: a health check test must be CMD or CMD-SHELL: {test}")
            out.append(bash_array(f"COMPOSE_HEALTHCHECK_{i}", test))
        # The container port of a published port: where the host reaches the service.
        published = []
        for port in service.get("ports", []):
            published.append(str(port).split(":")[-1].split("/")[0])
        out.append(bash_array(f"COMPOSE_PORTS_{i}", published))
    print("\n".join(out))


# --- the build context -----------------------------------------------------------------------------


def ignore_patterns(root):
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return []
    patterns = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("!"):
                fail(".dockerignore exceptions (!) are not reproduced by the check")
            patterns.append(pattern_regex(os.path.normpath(line).lstrip("/")))
    return patterns


def pattern_regex(pattern):
    """Docker's matching (Go filepath.Match, plus ** for any number of
    directories), anchored at the context's root."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1:end].replace("!", "^", 1) + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


def context(root):
    """Files and symlinks Docker sends: a path is left out when it, or a
    directory above it, matches a pattern."""
    patterns = ignore_patterns(root)
    ignored = lambda rel: any(p.match(rel) for p in patterns)
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root)
        rel = lambda name: name if rel_top == "." else f"{rel_top}/{name}"
        dirs[:] = sorted(d for d in dirs if not ignored(rel(d)))
        for name in sorted(files):
            if not ignored(rel(name)):
                sys.stdout.write(rel(name) + "\0")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("dockerfile", "compose", "context"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    {"dockerfile": dockerfile, "compose": compose, "context": context}[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
