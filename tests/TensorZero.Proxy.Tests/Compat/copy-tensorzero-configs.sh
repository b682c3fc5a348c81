#!/usr/bin/env bash
# Recreates TensorZeroConfigs/ (beside this script) from a git mirror of github.com/tensorzero/tensorzero:
# every TensorZero config in the repository (a .toml whose top-level tables are all TensorZero sections) and
# every file those configs reference (templates, schemas, tool parameters, system_instructions, evaluator
# scripts, and the templates those templates include), at their repository paths so relative paths resolve.
# Files are read with `git show <commit>:<path>`; symbolic links are followed and stored as plain files.
# It also writes CONFIGS.txt (one row per config, the multi-file ones as their glob), SOURCE.md and LICENSE.
# EXPECTED_FAILURES.md is kept: it is ours, not TensorZero's.
#
# Usage: copy-tensorzero-configs.sh [mirror-git-dir] [commit]
#   defaults: /work/.mirror/tensorzero+tensorzero/repo and HEAD
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mirror=${1:-/work/.mirror/tensorzero+tensorzero/repo}
commit=$(git -C "$mirror" rev-parse "${2:-HEAD}^{commit}")
root="$here/TensorZeroConfigs"

mkdir -p "$root"
# Everything but our own expectation file is regenerated.
find "$root" -mindepth 1 -maxdepth 1 ! -name EXPECTED_FAILURES.md -exec rm -rf {} +

MIRROR="$mirror" COMMIT="$commit" ROOT="$root" python3 - <<'PY'
import os, posixpath, re, subprocess, sys, tomllib, datetime

mirror, commit, root = os.environ["MIRROR"], os.environ["COMMIT"], os.environ["ROOT"]

def git(*args, binary=False):
    out = subprocess.run(["git", "-C", mirror, *args], check=True, capture_output=True).stdout
    return out if binary else out.decode()

# path -> (mode, object id) for every blob and symlink at the commit.
tree = {}
for line in git("ls-tree", "-r", "-z", commit).split("\0"):
    if line:
        meta, path = line.split("\t", 1)
        mode, kind, sha = meta.split()
        tree[path] = (mode, sha)
dirs = {posixpath.dirname(p) for p in tree}
for d in list(dirs):
    while d:
        d = posixpath.dirname(d)
        dirs.add(d)

def resolve(path, depth=0):
    """Follows symbolic links (of the file or of a parent folder); returns the blob's path or None."""
    path = posixpath.normpath(path)
    if path.startswith("../") or depth > 20:
        return None
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in tree and tree[prefix][0] == "120000":
            target = git("show", f"{commit}:{prefix}").strip()
            rest = "/".join(parts[i:])
            joined = posixpath.join(posixpath.dirname(prefix), target, rest) if rest else posixpath.join(posixpath.dirname(prefix), target)
            return resolve(joined, depth + 1)
    return path if path in tree else None

def show(path):
    return git("show", f"{commit}:{resolve(path)}", binary=True)

# TensorZero's top-level sections (UninitializedConfig in crates/tensorzero-core/src/config/mod.rs).
TZ_KEYS = {"gateway", "clickhouse", "postgres", "rate_limiting", "object_storage", "models", "embedding_models",
           "functions", "metrics", "tools", "evaluations", "provider_types", "optimizers", "autopilot"}

# Configs TensorZero loads as one glob of several files (see the docker-compose files and the e2e harness).
GROUPS = [
    "crates/tensorzero-core/tests/e2e/config/tensorzero.*.toml",
    "crates/tensorzero-core/tests/e2e/config-in-db/tensorzero.*.toml",
    "examples/docs/guides/operations/organize-your-configuration/config/**/*.toml",
    "ui/fixtures/config/tensorzero*.toml",
]

def glob_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"; i += 3
        elif pattern[i] == "*":
            out += "[^/]*"; i += 1
        elif pattern[i] == "?":
            out += "[^/]"; i += 1
        else:
            out += re.escape(pattern[i]); i += 1
    return re.compile(out + r"\Z")

configs = {}
for path in sorted(tree):
    if not path.endswith(".toml") or any(part.startswith(".") for part in path.split("/")):
        continue
    real = resolve(path)
    if real is None:
        continue
    try:
        doc = tomllib.loads(show(path).decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        continue
    if set(doc) <= TZ_KEYS:
        configs[path] = doc

group_members = {g: [p for p in configs if glob_regex(g).match(p)] for g in GROUPS}
for g, members in group_members.items():
    if not members:
        sys.exit(f"group {g} matches no config at {commit}")
grouped = {p for members in group_members.values() for p in members}
rows = sorted(GROUPS + [p for p in configs if p not in grouped])

INCLUDE = re.compile(r"""\{%-?\s*(?:include|import|extends|from)\s+["']([^"']+)["']""")
wanted, unresolved = set(), []
# A template shared by several configs may resolve its includes under one config's base_path only.
resolved_includes, unresolved_includes = set(), set()

def walk(value, keys, out):
    if isinstance(value, dict):
        for k, v in value.items():
            walk(v, keys + [k], out)
    elif isinstance(value, list):
        for v in value:
            walk(v, keys, out)
    elif isinstance(value, str):
        out.append((keys, value))

def add_template_includes(path, bases, seen):
    if path in seen:
        return
    seen.add(path)
    try:
        text = show(path).decode()
    except UnicodeDecodeError:
        return
    for name in INCLUDE.findall(text):
        # MiniJinja resolves includes against template_filesystem_access.base_path; some fixtures are
        # rendered with other bases, so the template's own ancestors are tried after the configured ones.
        candidates = [posixpath.join(b, name) for b in bases]
        d = posixpath.dirname(path)
        while True:
            candidates.append(posixpath.join(d, name))
            if not d:
                break
            d = posixpath.dirname(d)
        found = next((c for c in candidates if resolve(c)), None)
        if found is None:
            unresolved_includes.add((path, name))
            continue
        resolved_includes.add((path, name))
        found = posixpath.normpath(found)
        wanted.add(found)
        add_template_includes(found, bases, seen)

# TensorZero's own unit tests load these two with paths relative to the crate's folder (CARGO_MANIFEST_DIR in
# crates/tensorzero-core/src/config/tests.rs), not to the file's folder: their references are found there.
PATH_BASES = {
    "crates/tensorzero-core/fixtures/config/tensorzero.toml": "crates/tensorzero-core",
    "crates/tensorzero-core/fixtures/config/tensorzero.test.toml": "crates/tensorzero-core",
}

def strings_of(path):
    out = []
    walk(configs[path], [], out)
    return out

def template_bases(path):
    """template_filesystem_access.base_path of the config, or of any file of its glob (relative to that file)."""
    files = next((m for m in group_members.values() if path in m), [path])
    return [posixpath.normpath(posixpath.join(posixpath.dirname(f), v)) for f in files for keys, v in strings_of(f)
            if keys[-2:] == ["template_filesystem_access", "base_path"]]

for path in configs:
    wanted.add(path)
    here = PATH_BASES.get(path, posixpath.dirname(path))
    bases = template_bases(path) + [here]
    seen = set()
    for keys, value in strings_of(path):
        if "\n" in value or "://" in value or value.startswith("env::") or len(value) > 300:
            continue
        candidate = posixpath.normpath(posixpath.join(here, value))
        if resolve(candidate) and not candidate.endswith(".toml"):
            wanted.add(candidate)
            if re.search(r"\.(minijinja|jinja|jinja2|j2|txt|md)$", candidate):
                add_template_includes(candidate, bases, seen)
        elif re.search(r"\.(minijinja|jinja|jinja2|j2|json|txt|ts|js|py)$", value):
            unresolved.append(f"{path}: {'.'.join(keys)} = '{value}'")

unresolved += [f"{t}: include '{n}'" for t, n in unresolved_includes - resolved_includes]

for path in sorted(wanted):
    target = os.path.join(root, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(show(path))

with open(os.path.join(root, "LICENSE"), "wb") as f:
    f.write(show("LICENSE"))

with open(os.path.join(root, "CONFIGS.txt"), "w") as f:
    f.write("# One row per TensorZero config, relative to this folder; a glob is one multi-file config.\n")
    f.write("# Generated by ../copy-tensorzero-configs.sh: do not edit.\n")
    for row in rows:
        f.write(row + "\n")

symlinks = sorted(p for p in wanted if resolve(p) != p)
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
commit_date = git("log", "-1", "--format=%cs", commit).strip()
with open(os.path.join(root, "SOURCE.md"), "w") as f:
    f.write(f"""# Source of this corpus

Every TensorZero configuration in the TensorZero repository, with the files the configurations reference.

- Repository: https://github.com/tensorzero/tensorzero
- Commit: `{commit}` (committed {commit_date})
- Copied: {date}, from a git mirror of the repository
- Licence: TensorZero is licensed under the Apache License, Version 2.0
  (https://www.apache.org/licenses/LICENSE-2.0); `LICENSE` here is TensorZero's copy. These files are copied
  unmodified from the repository at the commit above (symbolic links are stored as copies of their targets); the
  copyright remains with their authors.

## How it was made

`tests/TensorZero.Proxy.Tests/Compat/copy-tensorzero-configs.sh [mirror-git-dir] [commit]` recreates this folder
(all but `EXPECTED_FAILURES.md`) with `git show <commit>:<path>`:

1. A config is any `.toml` outside dot-folders whose top-level tables are all TensorZero sections
   ({", ".join(sorted(TZ_KEYS))}); an empty file counts (TensorZero accepts it).
2. Each config's string values that name an existing file relative to the config's folder are copied, and the
   templates those templates `include`/`import` (resolved against `template_filesystem_access.base_path`, then the
   template's folders), at their repository paths, so every relative path resolves as it does in the repository.
   Exception: {", ".join("`" + p + "`" for p in PATH_BASES)} name their files relative to `crates/tensorzero-core`
   (TensorZero's unit tests load them with that folder as the base), so their references are looked up there.
3. `CONFIGS.txt` lists one row per config. Configs TensorZero loads as a glob of several files are one row each,
   written as that glob: {", ".join("`" + g + "`" for g in GROUPS)}. Every other config file is its own row.

Counts: {len(rows)} configs ({len(configs)} files), {len(wanted)} files in all.
""")
    if symlinks:
        f.write("\nSymbolic links in the repository, stored here as copies of their targets:\n\n")
        for p in symlinks:
            f.write(f"- `{p}` -> `{resolve(p)}`\n")
    if unresolved:
        f.write("\nPath-like values that name no file in the repository (left as they are):\n\n")
        for u in sorted(set(unresolved)):
            f.write(f"- {u}\n")

print(f"{len(rows)} configs ({len(configs)} files), {len(wanted)} files copied from {commit}")
for u in sorted(set(unresolved)):
    print("unresolved: " + u)
PY
