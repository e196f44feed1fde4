"""HLS project emission: Jinja2 templates + the ops' template contexts -> an output folder.

Folder layout:
    firmware/   <top>.h <top>.cpp parameters.h weights.h qc_*.h (kernels)
    tb/         <top>_tb.cpp tb_input.txt
    build.tcl   Vitis HLS script for the target's part and clock
    report.json cost estimate and design summary
    report.html the same for people: utilization gauges, layer bars, dataflow graph (self-contained)
    design/     the compiled design, for the simulator and `qcompile csim`
    package/    with --package: what puts it on the board (compiler/package/)
    .qcompile   the marker: the files qcompile wrote (what --force may replace)
The folder is written to a temporary sibling and renamed into place, so a failure never
leaves a partial folder, and an existing folder is only replaced with force=True.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..cache import cache_dir
from ..errors import OutputError
from ..ops.base import HlsContext
from ..report_html import render_html
from ..resources import data_dir

CPP_KEYWORDS = frozenset("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t
char32_t class compl const constexpr const_cast continue decltype default delete do double dynamic_cast else enum
explicit export extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid typename union
unsigned using virtual void volatile wchar_t while xor xor_eq main qc hls std""".split())


def cpp_identifier(name: str) -> str:
    """The one function that turns IR names into C++ identifiers."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "t"
    ident = re.sub(r"_+", "_", ident)
    if ident[0].isdigit():
        ident = "n" + ident
    if ident in CPP_KEYWORDS or ident.startswith("ap_") or ident.startswith("__"):
        ident = "q_" + ident
    return ident


class _Names:
    def __init__(self):
        self.used: set[str] = set()

    def take(self, name: str) -> str:
        base = cpp_identifier(name)
        ident, k = base, 1
        while ident in self.used:
            k += 1
            ident = f"{base}_{k}"
        self.used.add(ident)
        return ident


@dataclass
class _TensorView:
    name: str
    ident: str
    type: str
    elem: str
    vec: str
    stream: str
    channels: int
    items: int
    fold: int               # values per stream beat
    beats: int              # beats per inference
    depth: int = 2


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=False, lstrip_blocks=False, bytecode_cache=_bytecode_cache())
    env.filters["comment"] = comment_text
    env.filters["tcl"] = tcl_word
    return env


def comment_text(value) -> str:
    """Text from the model (node names, paths) made safe inside a // comment: no control
    characters (a newline would end the comment, so a name could inject code) and no
    backslashes (one at the end would continue the comment onto the next line)."""
    return re.sub(r"[\x00-\x1f\x7f\\]", "?", str(value))


def tcl_word(value) -> str:
    """Any text as one literal Tcl word: a double-quoted string in which nothing substitutes
    (backslash, $, [ ], quotes and braces escaped; control characters as \\u escapes)."""
    out = []
    for ch in str(value):
        if ch in '\\$[]"{};':
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _bytecode_cache():
    """Compiled templates are cached per user (Jinja checks them against the sources), which
    saves ~0.15 s per run; without a writable cache folder templates are compiled each time."""
    import jinja2

    root = cache_dir("jinja")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".probe"
        probe.write_text("")
        probe.unlink()
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(root))


def render_project(design, report: dict, package: bool = False, tb_rows=None) -> dict[str, str]:
    """All files of the project as {relative path: text} (no I/O; see write_project).
    package: add the board package (compiler/package/; tb_rows fill its word testbench)."""
    g, target = design.graph, design.target
    names = _Names()
    top = names.take(g.name if g.name else "qc_top")
    if not top[0].isalpha():
        top = "qc_" + top
    views: dict[str, _TensorView] = {}
    for t in g.tensors.values():
        if t.type is None:
            raise OutputError(f"tensor {t.name!r} has no fixed-point type; compile the design first")
        if t.type.width > 53 and t.name in g.outputs:
            raise OutputError(f"output {t.name!r} is {t.type.width} bits wide; the testbench prints "
                              "doubles, which hold at most 53")
        ident = names.take("t_" + t.name)
        views[t.name] = _TensorView(t.name, ident, t.type.cpp(), f"{ident}_t", f"{ident}_v", ident, t.channels,
                                    t.items, t.beat, t.beats)
    wiring = _Wiring(g, views, names)
    env = _env()
    layers, constants, vecs = [], [], []
    for node in g.nodes():
        ident = names.take(node.name)
        ctx = HlsContext(node=node, ident=ident, inputs=g.in_tensors(node), outputs=g.out_tensors(node), target=target)
        L = dict(node.op.hls(ctx))
        ins, outs = [views[t] for t in node.inputs], [views[t] for t in node.outputs]
        in_streams, converters = [], []
        for t, fold in zip(node.inputs, ctx.in_folds):
            stream, calls = wiring.converted(views[t], wiring.reader_stream(t, node.name), fold, vecs)
            in_streams.append(stream)
            converters.extend(calls)
        out_streams = [wiring.source_stream(t) for t in node.outputs]
        L.update(ident=ident, name=node.name, describe=node.op.describe(), source=node.source,
                 in_streams=in_streams, out_streams=out_streams, in_stream=in_streams[0], out_stream=out_streams[0],
                 x_t=ins[0].elem, y_t=outs[0].elem, in_v=ins[0].vec, out_v=outs[0].vec)
        L = SimpleNamespace(**L)  # attribute access only: no clash with dict methods in templates
        module = env.get_template(f"layers/{node.op.template}.j2").make_module({})
        L.config, L.call = str(module.config(L)), str(module.call(L))
        L.converters = converters
        L.forks = [wiring.forks[t] for t in node.outputs if t in wiring.forks]
        layers.append(L)
        constants.extend(ctx.constants)
    inputs = [views[t] for t in g.inputs]
    outputs = [views[t] for t in g.outputs]
    common = dict(top=top, target=target, model=Path(design.model_path).name or g.name, tensors=list(views.values()),
                  inputs=inputs, outputs=outputs, internal=wiring.internal, layers=layers,
                  input_forks=[wiring.forks[t] for t in g.inputs if t in wiring.forks],
                  constants=[_constant_view(c) for c in constants], vecs=vecs,
                  kernel_headers=[k.name for k in _kernel_headers()])
    files = {
        f"firmware/{top}.h": env.get_template("top.h.j2").render(**common),
        f"firmware/{top}.cpp": env.get_template("top.cpp.j2").render(**common),
        "firmware/parameters.h": env.get_template("parameters.h.j2").render(**common),
        "firmware/weights.h": env.get_template("weights.h.j2").render(**common),
        f"tb/{top}_tb.cpp": env.get_template("testbench.cpp.j2").render(**common),
        "build.tcl": env.get_template("build.tcl.j2").render(**common),
        "report.json": json.dumps(report, indent=1),
        "report.html": render_html(report, design),
    }
    for k in _kernel_headers():
        files[f"firmware/{k.name}"] = k.read_text()
    if package:
        from ..package import render_package

        files.update(render_package(design, env, top, inputs[0].vec, outputs[0].vec, report, tb_rows))
    return files


def _kernel_headers() -> list[Path]:
    """Every kernel header (templates/kernels/qc_*.h): each is copied and included once."""
    return sorted((data_dir("templates") / "kernels").glob("qc_*.h"))


OUTPUT = object()  # the top-level output port as a reader of a tensor


class _Wiring:
    """Which hls::stream each producer writes and each reader reads. A stream has exactly
    one writer and one reader, so a tensor read more than once (by several layers, or by a
    layer and the output port) is copied by a chain of qc::fork stages."""

    def __init__(self, g, views, names):
        self.views, self.internal, self.forks = views, [], {}
        self._src, self._reader = {}, {}
        # deeper FIFOs where a multi-input stage needs them (passes/size_fifos.py; in items,
        # the streams hold beats)
        self.names = names
        depth_of = {(t, n.name): d * (views[t].channels // views[t].fold)
                    for n in g.nodes() for t, d in zip(n.inputs, getattr(n.op, "input_depths", None) or [])}
        ports = set(g.inputs) | set(g.outputs)
        for name, v in views.items():
            readers = [n.name for n in g.consumers(name)] + ([OUTPUT] if name in g.outputs else [])
            if len(readers) <= 1 or name in g.inputs:
                src = v.stream  # the port itself, or the one internal stream
            else:
                src = self._declare(names.take(v.ident + "_src"), v)
            if name not in ports or (len(readers) > 1 and name not in g.inputs):
                if src == v.stream:
                    depth = max(v.depth, depth_of.get((name, readers[0]), v.depth)) if len(readers) == 1 else v.depth
                    self.internal.append(SimpleNamespace(stream=src, vec=v.vec, depth=depth))
            self._src[name] = src
            if len(readers) <= 1:
                for r in readers:
                    self._reader[(name, r)] = src
                continue
            targets = []
            for r in readers:
                stream = v.stream if r is OUTPUT else self._declare(names.take(f"{v.ident}_to_{r}"), v,
                                                                    depth_of.get((name, r), v.depth))
                self._reader[(name, r)] = stream
                targets.append(stream)
            calls, current = [], src
            for k, t in enumerate(targets[:-1]):
                rest = targets[-1] if k == len(targets) - 2 else self._declare(names.take(f"{v.ident}_fork{k}"), v)
                calls.append(f"qc::fork<{v.vec}, {v.beats}>({current}, {t}, {rest});")
                current = rest
            self.forks[name] = "\n    ".join(calls)

    def _declare(self, stream, v, depth=None):
        self.internal.append(SimpleNamespace(stream=stream, vec=v.vec, depth=max(v.depth, depth or v.depth)))
        return stream

    def source_stream(self, tensor):
        return self._src[tensor]

    def converted(self, v: _TensorView, stream: str, fold: int, vecs: list) -> tuple[str, list[str]]:
        """The stream a reader reads at `fold` values per beat: `stream` itself when it
        arrives at that width, else through width converters (two, via the lcm, when
        neither width divides the other). Returns (stream, converter calls)."""
        if fold == v.fold:
            return stream, []
        steps = [fold] if fold % v.fold == 0 or v.fold % fold == 0 else \
            [v.fold * fold // math.gcd(v.fold, fold), fold]
        calls, cur, cur_fold, cur_vec = [], stream, v.fold, v.vec
        for f in steps:
            vec = f"{v.ident}_v{f}"
            if vec not in {x.vec for x in vecs}:
                vecs.append(SimpleNamespace(vec=vec, elem=v.elem, fold=f))
            nxt = self._declare_typed(self.names.take(f"{v.ident}_w{f}"), vec)
            beats_in = v.channels * v.items // cur_fold
            calls.append(f"qc::convert<{cur_vec}, {vec}, {cur_fold}, {f}, {beats_in}>({cur}, {nxt});")
            cur, cur_fold, cur_vec = nxt, f, vec
        return cur, calls

    def _declare_typed(self, stream, vec):
        self.internal.append(SimpleNamespace(stream=stream, vec=vec, depth=2))
        return stream

    def reader_stream(self, tensor, node_name):
        return self._reader[(tensor, node_name)]


def top_name(files: dict[str, str]) -> str:
    return next(Path(p).name[:-len("_tb.cpp")] for p in files if p.startswith("tb/") and p.endswith("_tb.cpp"))


def _constant_view(c):
    codes = np.asarray(c.codes, dtype=np.int64).reshape(-1)
    return SimpleNamespace(name=c.name, type=c.type.cpp(), size=len(codes), values=_literals(c.type.to_float(codes)),
                           codes=", ".join(map(str, codes.tolist())), pragmas=storage_pragmas(c, len(codes)))


def storage_pragmas(c, size: int) -> list[str]:
    """How a constant array is built (ops' HlsContext.constant): `word` consecutive values
    per memory word (a whole array of registers/logic constants when word >= size), `banks`
    copies side by side each its own memory, bound to the memory kind the estimate assumed."""
    out = []
    if size > 1 and c.word >= size:
        out.append(f"#pragma HLS ARRAY_PARTITION variable={c.name} complete")
    elif c.word > 1:
        out.append(f"#pragma HLS ARRAY_RESHAPE variable={c.name} cyclic factor={c.word}")
    if c.banks > 1 and c.word < size:
        out.append(f"#pragma HLS ARRAY_PARTITION variable={c.name} block factor={c.banks}")
    if c.impl and c.word < size:
        kind = "rom_2p" if c.banks > 1 else "rom_1p"
        out.append(f"#pragma HLS BIND_STORAGE variable={c.name} type={kind} impl={c.impl}")
    return out


def _literals(values: np.ndarray) -> str:
    """_literal of every value, joined (one repr per value: large weight arrays stay fast)."""
    text = ", ".join(map(repr, np.asarray(values, dtype=np.float64).reshape(-1).tolist())) + ", "
    return text.replace(".0, ", ", ")[:-2]  # whole numbers without ".0", as _literal writes them


def _literal(v: float) -> str:
    """Shortest decimal that round-trips the (exactly representable) value."""
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


MARKER = ".qcompile"   # in every output folder: the files qcompile wrote there (see _owned_files)
# and tb/<top>_csim: what `qcompile csim` wrote into folders of earlier versions (it now builds in the cache)
CSIM_SCRATCH = ("tb/csim_input.txt", "tb/csim_output.txt")


def write_project(design, out: Path, report: dict, force: bool = False, tb_inputs: np.ndarray | None = None,
                  package: bool = False) -> Path:
    """Write the project into `out`. A new folder is claimed atomically (create-or-fail, so
    two compiles into one new folder cannot both succeed); the files are written to a
    temporary sibling and renamed into place, so a failure never leaves a partial folder.
    An existing folder is replaced only with force=True, only when it carries qcompile's
    marker, and only when every file in it is one qcompile wrote."""
    out = Path(out)
    replacing = out.exists() or out.is_symlink()
    if replacing:
        if not force:
            raise OutputError(f"{out} already exists (replace it with --force, or force=True in the API)")
        _check_replaceable(out)
    files = render_project(design, report, package=package, tb_rows=tb_inputs)
    claimed = False
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if not replacing:
            os.mkdir(out)   # the claim: exactly one of several concurrent compiles gets it
            claimed = True
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except FileExistsError:
        raise OutputError(f"{out} already exists (another compile created it just now)") from None
    except OSError as e:
        raise OutputError(f"cannot write to {out.parent}: {e.strerror or e}") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes it private; the project is an ordinary folder
    try:
        for rel, text in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            if rel.endswith(".sh"):
                os.chmod(p, 0o777 & ~mask)   # build scripts run as ./build.sh
        lines = "" if tb_inputs is None else "\n".join(" ".join(_literal(v) for v in row) for row in tb_inputs) + "\n"
        (tmp / "tb" / "tb_input.txt").write_text(lines)
        design.save(tmp / "design")
        written = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file())
        (tmp / MARKER).write_text(json.dumps({"written_by": "qcompile", "files": written}, indent=1))
        if claimed:
            os.rename(tmp, out)   # onto our own empty claim; fails if anything appeared in it
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / "x")
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if claimed:
            try:
                os.rmdir(out)   # only while it is still our empty claim
            except OSError:
                pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {out}: {e.strerror or e}") from None
        raise
    return out


def _owned_files(folder: Path) -> set[str] | None:
    """The files qcompile wrote into `folder` (relative paths), from its marker; None when
    the folder carries no readable marker."""
    try:
        doc = json.loads((folder / MARKER).read_text())
        files = set(doc["files"]) if doc.get("written_by") == "qcompile" else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if files is None or not all(isinstance(f, str) for f in files):
        return None
    top = next((f[len("tb/"):-len("_tb.cpp")] for f in files if f.startswith("tb/") and f.endswith("_tb.cpp")), None)
    scratch = set(CSIM_SCRATCH) | ({f"tb/{top}_csim"} if top else set())
    return files | scratch | {MARKER}


def _check_replaceable(out: Path) -> None:
    """--force replaces an earlier output, never a folder of anything else (-o ~), and
    never a file the user put into an earlier output."""
    if out.is_symlink() or not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    owned = _owned_files(out)
    if owned is None:
        if not any(out.iterdir()):
            return   # an empty folder: nothing to lose
        raise OutputError(f"{out} exists and is not a qcompile output folder (no {MARKER} marker); "
                          "not replacing it, even with --force")
    foreign = sorted(str(f.relative_to(out)) for f in out.rglob("*")
                     if (f.is_file() or f.is_symlink()) and str(f.relative_to(out)) not in owned)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise OutputError(f"{out} holds files qcompile did not write ({', '.join(foreign[:3])}{more}); "
                          "not replacing it, even with --force (move them out first)")
