"""qcompile command line.

    qcompile MODEL.onnx --target zcu104 -o OUT [--force] [--calib X.npy] [--csim]
    qcompile verify MODEL.onnx --target zcu104 [--data X.npy] [--labels Y.npy] [--per-layer]
    qcompile profile MODEL.onnx --target zcu104 --data X.npy -o DIR [--force]
    qcompile csim OUT [-n 1000] [--data X.npy]
    qcompile targets | ops | cache [clear]

User errors print one line and exit 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from .errors import CompileError, DataError, ModelWarning
from .resources import read_json

SUBCOMMANDS = ("compile", "verify", "profile", "csim", "sweep", "targets", "ops", "cache")
# compiler.calibrate.methods.METHODS (a test checks they agree), here so that building the
# parser imports nothing
CALIB_METHODS = ("minmax", "percentile", "mse", "kl", "aciq")


def _load_array(path: str | None, what: str):
    """A .npy array, or an .npz archive of one array per model input (by input name, or
    arr_0, arr_1, ... in graph-input order) for models with several inputs."""
    if path is None:
        return None
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} {path}: no such file")
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{what} {path}: not a .npy or .npz file ({str(e).split('.')[0]})") from None
    if not isinstance(a, np.ndarray):  # an .npz archive: one array per input
        with a:
            arrays = {k: a[k] for k in a.files}
        for k, v in arrays.items():
            _check_real(v, f"{what} {path}[{k}]")
        if arrays and all(k == f"arr_{i}" for i, k in enumerate(arrays)):
            return list(arrays.values())
        return arrays
    _check_real(a, f"{what} {path}")
    return a


def _check_real(a, what: str) -> None:
    if a.dtype.kind not in "biuf" or a.ndim == 0:
        raise DataError(f"{what}: a {a.dtype} array of shape {a.shape}; expected real numbers, batch first")


def _layer_config(path: str | None) -> tuple[dict, dict]:
    """--config: {"layers": {layer: {knob: value}}} (compiler.settings; compiler.estimate's
    override format, e.g. a search's result) and/or the shorthand {"reuse_factor": {layer: n}},
    and the global "width" / "weight_width" (auto precision's result has all three).
    Returns (layers, {"width": n, "weight_width": n} as given)."""
    if path is None:
        return {}, {}
    p = Path(path)
    if not p.is_file():
        raise CompileError(f"config {path}: no such file")
    doc = read_json(p, "config", CompileError)
    usage = f'config {path}: expected {{"layers": {{"layer": {{"reuse_factor": N, "weight_bits": N, "act_bits": N}}}}}}' \
        ' or {"reuse_factor": {"layer": N}}'
    if not isinstance(doc, dict) or not set(doc) <= {"layers", "reuse_factor", "width", "weight_width"}:
        raise CompileError(usage)
    widths = {k: doc[k] for k in ("width", "weight_width") if k in doc}
    if not all(type(v) is int for v in widths.values()):
        raise CompileError(f"config {path}: width and weight_width must be integers")
    layers, reuse = doc.get("layers", {}), doc.get("reuse_factor", {})
    if not isinstance(layers, dict) or not isinstance(reuse, dict) or not all(type(v) is int for v in reuse.values()):
        raise CompileError(usage)
    merged = {name: dict(knobs) if isinstance(knobs, dict) else knobs for name, knobs in layers.items()}
    for name, rf in reuse.items():
        if isinstance(merged.get(name, {}), dict):
            merged.setdefault(name, {}).setdefault("reuse_factor", rf)
    return merged, widths


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model (float, QONNX, QDQ or QOperator)")
    p.add_argument("--target", default="zcu104", help="board name (see `qcompile targets`) or a board .toml file")
    p.add_argument("--clock-mhz", type=float, default=None, help="clock (default: the board's)")
    p.add_argument("--calib", default=None, help="calibration inputs (.npy, batch first; .npz with one array per input) for activation ranges")
    p.add_argument("--width", type=int, default=None, help="bits of activations the model leaves in float (default 16)")
    p.add_argument("--weight-width", type=int, default=None, help="bits of weights the model leaves in float (default 16)")
    p.add_argument("--calib-method", default=None, choices=CALIB_METHODS,
                   help="how --calib's observed ranges become clip ranges (default: mse, measured best on the "
                        "float dev models; see the README's Calibration section)")
    p.add_argument("--calib-percentile", type=float, default=99.99, help="percentile method: %% of |values| kept")
    p.add_argument("--weight-calib-method", default="minmax", choices=CALIB_METHODS,
                   help="the same for float weights (clipped weights saturate)")
    p.add_argument("--ocs", type=float, default=0.0, metavar="RATIO",
                   help="outlier channel splitting: split this share of each float layer's input channels "
                        "(those holding the largest |weight|), duplicating what they read")
    p.add_argument("--per-channel-weights", action="store_true",
                   help="a weight format per output channel for float layers, through a requantizer after each "
                        "(layers already read by a requantizer get it anyway, for free)")
    p.add_argument("--auto-precision", default=None, metavar="CRITERION",
                   help="choose each layer's weight and activation widths: the cheapest design meeting "
                        "'argmax:0.99' or 'sqnr:40' on --calib (report.json holds the choice in --config format)")
    p.add_argument("--input-type", default=None, help="input type, e.g. 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>'")
    p.add_argument("--reuse-factor", type=int, default=None,
                   help="cycles per item of every MAC layer (1 = fully parallel; each layer takes its largest valid "
                        "value not above it); without it, or --fps/--latency-us/--fit, the design is the fastest that "
                        "fits the target within 80%% of each resource")
    p.add_argument("--config", default=None, help='JSON per-layer settings: {"layers": {"layer": {"reuse_factor": N | '
                   '"pe": N, "simd": N, "memory": "bram"|"lutram", "weight_bits": N, "act_bits": N}}} (the estimate '
                   'API\'s override format) or {"reuse_factor": {"layer": N}}')
    p.add_argument("--fps", type=float, default=None, help="fold to the cheapest design with this throughput")
    p.add_argument("--latency-us", type=float, default=None, help="fold to the cheapest design within this latency")
    p.add_argument("--fit", action="store_true", help="fold to the fastest design within the resource caps")
    p.add_argument("--prune", default=None, help="structured pruning: remove this share of a layer's output channels "
                   "(the smallest by weight magnitude) with what reads them, e.g. 'fc1=0.5,fc2=0.25'")
    p.add_argument("--caps", default=None, help="resource caps (share of the device) for --fit, --fps or --latency-us, e.g. "
                   "'dsp=0.5,lut=0.7' (--fit's default: 0.8 each)")


def _compile(args):
    import compiler

    layers, widths = _layer_config(args.config)
    for key, given in (("width", args.width), ("weight_width", args.weight_width)):
        if given is not None and key in widths and widths[key] != given:
            raise CompileError(f"--{key.replace('_', '-')} {given} and the config's {key} {widths[key]} conflict: give one")
    extra = {} if args.calib_method is None else {"calib_method": args.calib_method}
    return compiler.compile_model(args.model, args.target, calib=_load_array(args.calib, "calibration data"),
                                  clock_mhz=args.clock_mhz, width=widths.get("width", 16) if args.width is None else args.width,
                                  weight_width=widths.get("weight_width", 16) if args.weight_width is None else args.weight_width,
                                  reuse_factor=args.reuse_factor, layers=layers,
                                  input_type=args.input_type, fps=args.fps, latency_us=args.latency_us,
                                  fit=args.fit, caps=_caps(args.caps), prune=_prune(args.prune),
                                  calib_percentile=args.calib_percentile, weight_calib_method=args.weight_calib_method,
                                  ocs=args.ocs, per_channel_weights=args.per_channel_weights,
                                  auto_precision=args.auto_precision, **extra)


def _pairs(text: str | None, option: str, example: str) -> dict | None:
    """'a=0.5,b=0.25' -> {"a": 0.5, "b": 0.25} (--caps, --prune); one line when malformed."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.rpartition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise CompileError(f"{option} {text!r}: expected pairs like '{example}'")
    return out


def _prune(text: str | None) -> dict | None:
    return _pairs(text, "--prune", "fc1=0.5,fc2=0.25")   # layer=share of its output channels


def _caps(text: str | None) -> dict | None:
    return _pairs(text, "--caps", "dsp=0.5,lut=0.7")      # resource=share of the device


def _sample_inputs(design, n: int, data=None, seed: int = 0):
    """Inputs for testbenches and checks: user data, or standard-normal samples clipped to
    the input type's range (the usual standardized-feature distribution)."""
    import numpy as np

    from .passes.assign_formats import check_data

    g = design.graph
    if data is not None:  # the model's layout (e.g. NCHW) -> the design's (channels-last)
        return [x[:n] for x in check_data(g, g.inputs_to_ir(data, "data"), "data")]
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(size=(n,) + tuple(t.shape)), t.type.min_value, t.type.max_value)
            for t in (g.tensors[name] for name in g.inputs)]


def cmd_compile(args) -> int:
    import compiler

    from .backend.csim import testbench_rows
    from .backend.emit import write_project
    from .report import build_report, format_table

    if args.output == "":
        raise CompileError("-o needs a folder name")
    if args.csim:
        _positive(args.csim_n, "--csim-n")
    out = Path(args.output or f"build/{Path(args.model).stem if Path(args.model).stem != 'model' else Path(args.model).parent.name}")
    if out.exists() and not args.force:
        raise CompileError(f"{out} already exists (use --force to replace it)")
    design = _compile(args)
    tb = _sample_inputs(design, 16, _load_array(args.data, "data") if args.data else None)
    doc = build_report(design, compiler.estimate(design))
    write_project(design, out, doc, force=args.force, tb_inputs=testbench_rows(design, tb), package=args.package)
    # --json: report.json's content is the only thing on stdout; everything else goes to stderr
    say = functools.partial(print, file=sys.stderr) if args.json else print
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        say(format_table(doc))
    say(f"wrote {out}/ (HLS project, report.json, report.html, design/{', package/' if args.package else ''})")
    if args.csim:
        return _run_csim(design, out, args.csim_n, None, say)
    return 0


def _positive(n: int, what: str) -> int:
    if n < 1:
        raise CompileError(f"{what} must be at least 1, got {n}")
    return n


def _run_csim(design, out: Path, n: int, data, say=print) -> int:
    from .backend.csim import compare

    x = _sample_inputs(design, n, data, seed=1)
    r = compare(design, out, x)
    say(f"C simulation: {r.samples} samples, {r.mismatches} mismatching the bit-accurate simulator "
          f"({r.mismatched_elements} elements; build {r.seconds_build:.1f} s, run {r.seconds_run:.1f} s)")
    bad = r.mismatches
    if (out / "package" / "design_io.json").is_file():   # --package: the AXI-stream top, word for word
        from .package import csim as package_csim

        samples, wrong = package_csim.compare(design, out, x)
        say(f"package word testbench: {samples} samples, {wrong} mismatching the bit-accurate simulator")
        bad += wrong
    return 0 if bad == 0 else 1


def cmd_csim(args) -> int:
    import compiler

    design = compiler.load_design(args.out)
    return _run_csim(design, Path(args.out), _positive(args.n, "-n"), _load_array(args.data, "data"))


def cmd_verify(args) -> int:
    from .verify import format_verify, verify

    _positive(args.n, "-n")
    data = _load_array(args.data, "data")
    labels = _load_array(args.labels, "labels")
    design = _compile(args)
    x = _sample_inputs(design, args.n if data is None else _batch_of(data), data, seed=2)
    print(format_verify(verify(design, args.model, x, labels)))
    if args.per_layer:
        from .profile import format_profile, profile

        print(format_profile(profile(design, [lay.to_onnx(v) for lay, v in zip(design.graph.input_layouts, x)])))
    return 0


def cmd_profile(args) -> int:
    from .profile import format_profile, profile, require_plots, write_profile

    if not args.data:
        raise CompileError("profile needs --data X.npy: the inputs to profile on (batch first, the model's layout)")
    if not args.output:
        raise CompileError("profile needs -o DIR: the folder for profile.json, profile.html and the plots")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CompileError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise CompileError(f"{out} already exists and is not empty (use --force to write into it)")
    require_plots()
    data = _load_array(args.data, "data")
    p = profile(_compile(args), data)
    write_profile(p, out)
    print(format_profile(p))
    print(f"wrote {out}/ (profile.json, profile.html, sqnr.png and a histogram per tensor)")
    return 0


def _batch_of(data) -> int:
    first = next(iter(data.values())) if isinstance(data, dict) else data[0] if isinstance(data, list) else data
    return len(first)


def cmd_sweep(args) -> int:
    from .cost.target import board_name
    from .sweep import SweepRequest, read_configs, run_sweep

    targets = [board_name(t.strip()) for t in args.targets.split(",") if t.strip()]
    if not targets:
        raise CompileError("--targets: give at least one board, e.g. 'pynq-z2,zcu104'")
    _positive(args.workers, "--workers")
    if args.labels and not args.data:
        raise CompileError("--labels needs --data")
    compile_args = dict(fps=args.fps, latency_us=args.latency_us, fit=args.fit, reuse_factor=args.reuse_factor,
                        calib=_load_array(args.calib, "calibration data"))
    req = SweepRequest(models=list(args.models), targets=targets,
                       configs=read_configs(args.configs) if args.configs else [("base", {})],
                       compile_args={k: v for k, v in compile_args.items() if v not in (None, False)},
                       data=_load_array(args.data, "data"), labels=_load_array(args.labels, "labels"))
    rows = run_sweep(req, Path(args.output), scheduler=args.scheduler, workers=args.workers)
    variants = len({(r["model"], r["target"], r["config"]) for r in rows if r["compiled"]})
    print(f"{len(rows)} points ({len(req.models)} models x {len(targets)} targets x {len(req.configs)} "
          f"configurations): {len(req.models) * len(targets)} compiles for the estimates"
          + (f", {variants} more to measure points with their own weight/activation widths" if variants else "")
          + f"; wrote {args.output}/sweep.csv")
    return 0


def cmd_targets(args) -> int:
    from .cost.target import available_targets, load_target

    for name in available_targets():
        t = load_target(name)
        r = t.resources
        print(f"{name:<14} {t.part:<24} {t.clock_mhz:>5g} MHz  LUT {r['lut']:>8}  FF {r['ff']:>8}  DSP {r['dsp']:>6}  "
              f"BRAM18 {r['bram_18k']:>5}  URAM {r['uram']:>5}  {t.board}")
    return 0


def cmd_ops(args) -> int:
    """Every op the importer converts, its domains, and its limits (the converter's first
    docstring line, which is where each op states them)."""
    from .frontend import onnx as _registers_every_converter  # noqa: F401
    from .frontend.values import CONVERTERS

    by_op: dict[tuple[str, object], list[str]] = {}
    for key, fn in CONVERTERS.items():
        domain, _, op = key.rpartition(":")
        by_op.setdefault((op, fn), []).append(domain or "ai.onnx")
    rows = sorted((op, sorted(set(domains)), fn) for (op, fn), domains in by_op.items())
    width = max(len(op) for op, _, _ in rows)
    for op, domains, fn in rows:
        limits = (fn.__doc__ or "").strip().splitlines()[0] if (fn.__doc__ or "").strip() else ""
        where = "" if domains == ["ai.onnx"] else f" [{', '.join(domains)}]"
        print(f"{op:<{width}}  {limits}{where}")
    print(f"{len(rows)} ops (standard ops at every opset their schema exists at); any other op is refused in one "
          "line naming its node")
    return 0


def cmd_cache(args) -> int:
    from . import cache

    if args.action == "clear":
        print(f"removed {cache.cache_root()} ({cache.clear() / 1e6:.1f} MB)")
        return 0
    usage = cache.usage()
    print(f"{cache.cache_root()}: {sum(b for _, b in usage.values()) / 1e6:.1f} MB "
          "(rebuilt on demand; `qcompile cache clear` empties it)")
    for name, (files, size) in usage.items():
        print(f"  {name + '/':<8} {files:>5} files {size / 1e6:>8.1f} MB")
    return 0


COMMON_OPTIONS = """compile (the default command: `qcompile MODEL ...`):
  --target BOARD        a board of `qcompile targets` (any case) or a board .toml file (default zcu104)
  -o OUT, --force       output folder (default build/<model>); --force replaces an earlier output
  --calib X.npy         calibration inputs for the ranges of float tensors
  --fit [--caps ...]    the fastest design within the resource caps (the default, at 80% of each)
  --fps N | --latency-us X     the cheapest design meeting a throughput / latency
  --reuse-factor N | --config F.json     fixed folding for every / each layer
  --csim [--csim-n N]   C-simulate the emitted C++ bit for bit against the simulator
  --json                print report.json on stdout instead of the table
  --package             add package/: Vivado/PYNQ (Zynq boards) or Vitis/XRT (Alveo) deployment files
`qcompile compile --help` lists every option.

profile MODEL --data X.npy -o DIR: per-layer float ranges, types, saturation and SQNR against
  the float model (profile.json, profile.html, plots); `verify ... --per-layer` prints its table."""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    ap = argparse.ArgumentParser(prog="qcompile", description="Compile quantized/pruned ONNX models (float, QONNX, "
                                 "QDQ, QOperator) to FPGA HLS designs, with a cost estimate and a bit-accurate "
                                 "simulator.", epilog=COMMON_OPTIONS, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"qcompile {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compile", help="compile a model (default command)")
    _add_model_options(c)
    c.add_argument("-o", "--output", default=None, help="output folder (default build/<model>)")
    c.add_argument("--force", action="store_true", help="replace an existing output folder")
    c.add_argument("--json", action="store_true", help="print report.json's content on stdout (messages go to stderr)")
    c.add_argument("--data", default=None, help="inputs (.npy) to put in the testbench's tb_input.txt")
    c.add_argument("--csim", action="store_true", help="also build and run the C simulation against the simulator")
    c.add_argument("--csim-n", type=int, default=1000, help="samples for --csim")
    c.add_argument("--package", action="store_true", help="add package/: the AXI-stream top, Vivado block design "
                   "and PYNQ driver (Zynq boards) or Vitis kernels and XRT host (Alveo) that put the design on the board")
    c.set_defaults(func=cmd_compile)
    v = sub.add_parser("verify", help="compare the bit-accurate simulator with the float reference")
    _add_model_options(v)
    v.add_argument("--data", default=None, help="inputs (.npy, batch first); default: standard-normal samples")
    v.add_argument("--labels", default=None, help="integer labels (.npy) to report accuracy")
    v.add_argument("-n", type=int, default=1000, help="random samples when no --data is given")
    v.add_argument("--per-layer", action="store_true", help="also print the per-layer profile (`qcompile profile`'s "
                   "table) for the same design and data")
    v.set_defaults(func=cmd_verify)
    f = sub.add_parser("profile", help="per-layer numerics against the float model: float ranges, types, "
                       "saturation, SQNR; profile.json, profile.html and plots")
    _add_model_options(f)
    f.add_argument("--data", default=None, help="inputs to profile on (.npy, batch first; .npz with one array per input)")
    f.add_argument("-o", "--output", default=None, help="output folder (profile.json, profile.html, PNG plots)")
    f.add_argument("--force", action="store_true", help="write into an existing non-empty folder")
    f.set_defaults(func=cmd_profile)
    s = sub.add_parser("csim", help="build the testbench with g++ and compare it with the simulator bit for bit")
    s.add_argument("out", help="an output folder written by qcompile")
    s.add_argument("-n", type=int, default=1000, help="samples")
    s.add_argument("--data", default=None, help="inputs (.npy); default: standard-normal samples")
    s.set_defaults(func=cmd_csim)
    t = sub.add_parser("targets", help="list the known boards")
    t.set_defaults(func=cmd_targets)
    w = sub.add_parser("sweep", help="estimate (and with data, measure) every model x target x configuration on a "
                       "Dask cluster; sweep.csv and a Pareto plot per model")
    w.add_argument("models", nargs="+", help="ONNX models")
    w.add_argument("--targets", required=True, help="boards, comma-separated (e.g. pynq-z2,zcu104)")
    w.add_argument("--configs", default=None, help="JSON list of per-layer settings to estimate on each design "
                   '([{"name": ..., "layers": {layer: {knob: value}}}, ...]); default: the compiled design only')
    w.add_argument("--fit", action="store_true", help="compile each design to the fastest that fits (the default)")
    w.add_argument("--fps", type=float, default=None, help="compile each design to the cheapest with this throughput")
    w.add_argument("--latency-us", type=float, default=None, help="... or within this latency")
    w.add_argument("--reuse-factor", type=int, default=None, help="... or with this reuse factor")
    w.add_argument("--calib", default=None, help="calibration inputs (.npy) for every model")
    w.add_argument("--data", default=None, help="inputs (.npy, the models' layout): measure with the simulator")
    w.add_argument("--labels", default=None, help="integer labels (.npy) for --data: accuracy per point")
    w.add_argument("-o", "--output", default="build/sweep", help="output folder (sweep.csv, pareto_<model>.png)")
    w.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a LocalCluster)")
    w.add_argument("--workers", type=int, default=2, help="LocalCluster workers (one thread each)")
    w.set_defaults(func=cmd_sweep)
    o = sub.add_parser("ops", help="list the supported ops and their limits")
    o.set_defaults(func=cmd_ops)
    k = sub.add_parser("cache", help="show the per-user cache (compiled templates, precompiled headers, C-simulation "
                       "binaries) or empty it")
    k.add_argument("action", nargs="?", choices=("show", "clear"), default="show")
    k.set_defaults(func=cmd_cache)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "compile")
    args = build_parser().parse_args(argv)
    import signal
    import warnings

    default_show = warnings.showwarning

    def one_line(message, category, *rest, **kw):
        if issubclass(category, ModelWarning):
            print(f"qcompile: warning: {message}", file=sys.stderr)
        else:
            default_show(message, category, *rest, **kw)
    warnings.showwarning = one_line
    warnings.simplefilter("default", ModelWarning)
    # SIGTERM (timeouts, schedulers) unwinds like Ctrl-C, so no partial output folder is left
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return args.func(args)
    except CompileError as e:
        print(f"qcompile: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:   # `qcompile ops | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
