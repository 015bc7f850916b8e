"""Stacks to function, file:line and inlined frames, after the run.

The addresses are return addresses, so ip - 1 is symbolized (the call
instruction, not the one after it).  Modules come from the MODULES records
of the process, or of its ancestors (a forked child inherits the map).
The DWARF work is done by the rmapshim-symbolize helper, one invocation
per distinct module set; answers are cached per build-id and offset in
DIR/symbols.cache.json, so a second report starts instantly.
"""

import json
import os
import struct
import subprocess
import sys

CACHE_NAME = "symbols.cache.json"
DEBUG_ROOT = "/usr/lib/debug/.build-id"
NT_GNU_BUILD_ID = 3


def elf_build_id(path):
    """The GNU build-id of a 64-bit little-endian ELF file (hex), or None."""
    try:
        with open(path, "rb") as f:
            eh = f.read(64)
            if len(eh) < 64 or eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", eh, 32)
            phentsize, phnum = struct.unpack_from("<HH", eh, 54)
            f.seek(phoff)
            phdrs = f.read(phentsize * phnum)
            for i in range(phnum):
                ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", phdrs, i * phentsize)
                if ptype != 4:          # PT_NOTE
                    continue
                f.seek(off)
                found = _note_build_id(f.read(min(filesz, 1 << 16)))
                if found:
                    return found
    except (OSError, struct.error):
        return None
    return None


def _note_build_id(notes):
    p = 0
    while p + 12 <= len(notes):
        namesz, descsz, ntype = struct.unpack_from("<III", notes, p)
        name_end = p + 12 + ((namesz + 3) & ~3)
        if ntype == NT_GNU_BUILD_ID and notes[p + 12:p + 12 + namesz] == b"GNU\0":
            return notes[name_end:name_end + descsz].hex()
        p = name_end + ((descsz + 3) & ~3)
    return None


def module_file(path, build_id):
    """The file to read a module's symbols from: the recorded path if its
    build-id still matches, else the build-id's debug file, else None (the
    binary changed since the run: symbols would lie)."""
    if not build_id or elf_build_id(path) == build_id:
        return path if os.path.exists(path) else None
    debug = os.path.join(DEBUG_ROOT, build_id[:2], build_id[2:] + ".debug")
    return debug if os.path.exists(debug) else None


def find_helper():
    forced = os.environ.get("RMAPSHIM_SYMBOLIZE")
    if forced is not None:
        # An explicit choice, even a wrong one ("" turns symbolization off).
        return forced if os.access(forced, os.X_OK) else None
    cands = [os.path.join(os.path.dirname(os.path.realpath(sys.argv[0])), "rmapshim-symbolize")]
    build = os.environ.get("RMAPSHIM_BUILD")
    if build:
        cands.append(os.path.join(build, "bin", "rmapshim-symbolize"))
    for c in cands:
        if c and os.access(c, os.X_OK) and not os.path.isdir(c):
            return c
    return None


def run_helper(helper, modules, addrs):
    """Symbolize @addrs (module-absolute, already -1) against @modules
    [(bias, path)]; returns one dict per address (empty frames on failure)."""
    lines = ["M %x %s" % (bias, path) for bias, path in modules]
    lines += ["A %x" % a for a in addrs]
    try:
        out = subprocess.run([helper], input="\n".join(lines) + "\n", capture_output=True,
                             text=True, timeout=120, check=False).stdout.splitlines()
        answers = [json.loads(line) for line in out]
    except (OSError, subprocess.SubprocessError, ValueError):
        answers = []
    if len(answers) != len(addrs):
        return [{"frames": []} for _ in addrs]
    return answers


class Symbolizer:
    def __init__(self, run, helper=None, use_cache=True):
        self.run = run
        self.helper = helper or find_helper()
        self.cache_path = os.path.join(run.dir, CACHE_NAME)
        self.cache = self._load_cache() if use_cache else {}
        self.dirty = False
        self.resolved = {}       # (pid, ip) -> [frame dicts]
        self.files = {}          # (path, build-id) -> file to symbolize, or None
        self.mods = {}           # pid -> its modules (see modules_of)
        self.modsets = {}        # pid -> (bias, file) pairs (see modset)

    def _load_cache(self):
        try:
            with open(self.cache_path) as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self):
        if not self.dirty:
            return
        # Written aside and renamed: a concurrent report never reads half a file.
        tmp = "%s.%d.tmp" % (self.cache_path, os.getpid())
        try:
            with open(tmp, "w") as f:
                json.dump(self.cache, f)
            os.replace(tmp, self.cache_path)
        except OSError:
            # A read-only or full run directory only costs speed.
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def modules_of(self, pid):
        """Modules mapped by @pid (latest generation first), or its ancestors'."""
        if pid not in self.mods:
            self.mods[pid] = self._modules_of(pid)
        return self.mods[pid]

    def _modules_of(self, pid):
        seen = set()
        while pid and pid not in seen:
            recs = self.run.modules.get(pid)
            if recs:
                return [m for r in sorted(recs, key=lambda r: -r.generation) for m in r.modules]
            seen.add(pid)
            p = self.run.processes.get(pid)
            pid = p.ppid if p else 0
        return []

    @staticmethod
    def module_at(mods, ip):
        for m in mods:
            if m.lo <= ip < m.hi:
                return m
        return None

    def resolve(self, pid_ips):
        """Symbolize every (pid, ip) of @pid_ips in as few helper runs as possible."""
        batches = {}
        for pid, ip in set(pid_ips):
            if (pid, ip) in self.resolved:
                continue
            mods = self.modules_of(pid)
            m = self.module_at(mods, ip)
            if m is None:
                self.resolved[(pid, ip)] = [self._raw(None, ip)]
                continue
            key = m.build_id or m.path
            off = "%x" % (ip - 1 - m.bias)
            hit = self.cache.get(key, {}).get(off)
            if hit is not None:
                self.resolved[(pid, ip)] = self._label(hit, m, ip)
                continue
            if self.file_of(m) is None:
                self.resolved[(pid, ip)] = [self._raw(m, ip)]
                continue
            batches.setdefault(self.modset(pid), []).append((pid, ip, m, key, off))
        for modset, items in batches.items():
            answers = (run_helper(self.helper, modset, [ip - 1 for _, ip, _, _, _ in items])
                       if self.helper else [{"frames": []}] * len(items))
            for (pid, ip, m, key, off), ans in zip(items, answers):
                frames = [f for f in ans.get("frames", []) if f.get("function")]
                if self.helper:
                    self.cache.setdefault(key, {})[off] = frames
                    self.dirty = True
                self.resolved[(pid, ip)] = self._label(frames, m, ip)
        self.save()

    def modset(self, pid):
        """The (bias, file) pairs to report for @pid: one helper run each."""
        if pid not in self.modsets:
            self.modsets[pid] = tuple(sorted({(x.bias, self.file_of(x))
                                              for x in self.modules_of(pid) if self.file_of(x)}))
        return self.modsets[pid]

    def file_of(self, m):
        k = (m.path, m.build_id)
        if k not in self.files:
            self.files[k] = module_file(m.path, m.build_id) if m.path.startswith("/") else None
        return self.files[k]

    def _label(self, frames, m, ip):
        mod = os.path.basename(m.path) if m else None
        if not frames:
            return [self._raw(m, ip)]
        return [dict(f, module=mod, addr=ip) for f in frames]

    @staticmethod
    def _raw(m, ip):
        if m is None:
            return dict(function=None, file=None, line=0, inlined=False, module=None, addr=ip)
        return dict(function=None, file=None, line=0, inlined=False,
                    module=os.path.basename(m.path), addr=ip, offset=ip - m.bias)

    def prefetch(self, pid_sids):
        """Resolve every frame of stacks [(pid, id)] in one batch."""
        todo = []
        for pid, sid in pid_sids:
            owner, ips = self.run.stack_of(pid, sid)
            if ips:
                todo.extend((owner, ip) for ip in ips)
        self.resolve(todo)

    def stack(self, pid, sid):
        """Symbolized frames of stack @sid of @pid, innermost first."""
        owner, ips = self.run.stack_of(pid, sid)
        if ips is None:
            return []
        self.resolve([(owner, ip) for ip in ips])
        return [f for ip in ips for f in self.resolved[(owner, ip)]]


def frame_name(f):
    """'function' or 'module+0xoff' or '0xaddr'."""
    if f.get("function"):
        return f["function"]
    if f.get("module"):
        return "%s+0x%x" % (f["module"], f.get("offset", 0))
    return "0x%x" % f.get("addr", 0)


def frame_text(f):
    s = frame_name(f)
    if f.get("file"):
        s += " at %s:%d" % (os.path.basename(f["file"]), f.get("line") or 0)
    if f.get("inlined"):
        s += " (inlined)"
    return s
