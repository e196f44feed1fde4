"""Targets: one TOML file per board in hw_models/, or a user's own file via --target PATH."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TargetError
from ..resources import data_dir

RESOURCE_KEYS = ("lut", "ff", "dsp", "bram_18k", "uram")
REQUIRED = ("name", "part", "fabric", "dsp_type", "clock_mhz")
PART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")   # e.g. xc7z020clg400-1, xcu250-figd2104-2L-e


PLATFORMS = ("zynq-7000", "zynq-ultrascale+", "alveo")   # what --package can build for
PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")  # board parts and Vitis platform names


@dataclass(frozen=True)
class BoardPackage:
    """A board's [package] table: how `--package` puts a design on it (compiler/package/)."""

    platform: str             # one of PLATFORMS
    board_part: str = ""      # Vivado board part; its preset applies when the board files are installed
    vitis_platform: str = ""  # Alveo: the shell the xclbin links against


@dataclass(frozen=True)
class Target:
    name: str
    part: str
    fabric: str
    dsp_type: str
    clock_mhz: float
    resources: dict[str, int]
    coeff: dict[str, float]
    board: str = ""
    ddr_gbps: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    path: str = ""
    package: BoardPackage | None = None   # None: a bare device with no board package

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def with_clock(self, mhz: float | None) -> "Target":
        if mhz is None:
            return self
        if not valid_clock(mhz):
            raise TargetError(f"clock {mhz!r} MHz is outside the supported (0, {MAX_CLOCK_MHZ}] MHz")
        return Target(**{**self.__dict__, "clock_mhz": float(mhz)})

    def summary(self) -> dict:
        return {"name": self.name, "board": self.board, "part": self.part, "clock_mhz": self.clock_mhz,
                "dsp_type": self.dsp_type, "resources": dict(self.resources)}


MAX_CLOCK_MHZ = 2000  # beyond any FPGA fabric clock: a typo, not a design


def valid_clock(mhz) -> bool:
    return isinstance(mhz, (int, float)) and not isinstance(mhz, bool) and 0 < mhz <= MAX_CLOCK_MHZ


def available_targets() -> list[str]:
    return sorted(p.stem for p in data_dir("hw_models").glob("*.toml") if p.stem != "coefficients")


def load_target(spec: str, clock_mhz: float | None = None) -> Target:
    """A board name from hw_models/ (e.g. 'zcu104') or a path to a board TOML file."""
    path = Path(spec)
    if not (spec.endswith(".toml") or path.is_file()):
        path = data_dir("hw_models") / f"{board_name(spec)}.toml"
    return _parse(path).with_clock(clock_mhz)


def board_name(spec: str) -> str:
    """A known board's name from what a user typed: any case, '_' for '-', the family prefix
    left out ('ZCU104', 'u250', 'pynq_z2'); otherwise an error with the closest names."""
    import difflib

    known = available_targets()
    def key(name: str) -> str:
        return re.sub(r"[-_ ]", "", name.lower())
    by_key = {key(n): n for n in known} | {key(n.split("-", 1)[1]): n for n in known if n.startswith("alveo-")}
    if key(spec) in by_key:
        return by_key[key(spec)]
    close = difflib.get_close_matches(key(spec), list(by_key), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(dict.fromkeys(by_key[c] for c in close))}? " if close else ""
    raise TargetError(f"unknown target {spec!r} ({hint}available: {', '.join(known)}; "
                      "or pass a path to a board .toml file)")


def _parse(path: Path) -> Target:
    where = f"board file {path}"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise TargetError(f"{where}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TargetError(f"{where}: not valid TOML ({e})") from None
    for key in REQUIRED:
        if key not in data:
            raise TargetError(f"{where}: missing key {key!r}")
    res = data.get("resources")
    if not isinstance(res, dict):
        raise TargetError(f"{where}: missing table [resources] with keys {', '.join(RESOURCE_KEYS)}")
    resources = {}
    for key in RESOURCE_KEYS:
        value = res.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TargetError(f"{where}: key 'resources.{key}' must be a non-negative integer, got {value!r}")
        resources[key] = value
    clock = data["clock_mhz"]
    if not valid_clock(clock):
        raise TargetError(f"{where}: key 'clock_mhz' must be a number in (0, {MAX_CLOCK_MHZ}], got {clock!r}")
    for key in ("name", "part", "board"):
        value = data.get(key, "")
        if not isinstance(value, str) or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise TargetError(f"{where}: key {key!r} must be a one-line string, got {value!r}")
    if not PART_NAME.fullmatch(data["part"]):
        raise TargetError(f"{where}: key 'part' must be a device part name (letters, digits, '-', '_', '.'), "
                          f"got {data['part']!r}")
    coeff = _coefficients(str(data["fabric"]), where)
    ddr = data.get("ddr_gbps")
    if ddr is not None and (not isinstance(ddr, (int, float)) or not 0 < ddr < float("inf")):
        raise TargetError(f"{where}: key 'ddr_gbps' must be a positive number, got {ddr!r}")
    return Target(name=str(data["name"]), part=str(data["part"]), fabric=str(data["fabric"]),
                  dsp_type=str(data["dsp_type"]), clock_mhz=float(clock), resources=resources, coeff=coeff,
                  board=str(data.get("board", "")), ddr_gbps=ddr, sources=_sources(data.get("sources", {}), where),
                  path=str(path), package=_package(data.get("package"), where))


HLS_TOOL = "vitis_hls"  # what build.tcl runs; its [<fabric>.tools.vitis_hls] overrides apply


def raw_coefficients(fabric: str, where: str = "coefficients") -> dict:
    """The fabric's table in hw_models/coefficients.toml, tool overrides not applied."""
    table = tomllib.loads((data_dir("hw_models") / "coefficients.toml").read_text())
    if fabric not in table:
        raise TargetError(f"{where}: key 'fabric' is {fabric!r}; known fabrics: {', '.join(sorted(table))}")
    return table[fabric]


def _coefficients(fabric: str, where: str) -> dict[str, float]:
    return coefficients_for(raw_coefficients(fabric, where), HLS_TOOL, "io_stream")


def coefficients_for(table: dict, tool: str, io_type: str) -> dict:
    """A fabric's coefficients for one HLS tool family (its [<fabric>.tools.<tool>] overrides
    on top) and interface style: io_parallel = 1 for layers exchanging plain arrays inside
    one pipelined function (hls4ml's io_parallel), 0 for streams (what qcompile emits)."""
    coeff = {k: float(v) for k, v in table.items() if not isinstance(v, dict)}
    coeff.update((k, float(v)) for k, v in (table.get("tools") or {}).get(tool, {}).items())
    coeff["io_parallel"] = 1.0 if io_type == "io_parallel" else 0.0
    return coeff


def _package(value, where: str) -> BoardPackage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TargetError(f"{where}: key 'package' must be a table (platform = ...)")
    unknown = sorted(set(value) - {"platform", "board_part", "vitis_platform"})
    if unknown:
        raise TargetError(f"{where}: unknown key 'package.{unknown[0]}' (supported: platform, board_part, vitis_platform)")
    if value.get("platform") not in PLATFORMS:
        raise TargetError(f"{where}: key 'package.platform' must be one of {', '.join(PLATFORMS)}, "
                          f"got {value.get('platform')!r}")
    for key in ("board_part", "vitis_platform"):
        text = value.get(key, "")
        if not isinstance(text, str) or (text and not PACKAGE_NAME.fullmatch(text)):
            raise TargetError(f"{where}: key 'package.{key}' must be a name (letters, digits, '-', '_', '.', ':'), "
                              f"got {text!r}")
    if value["platform"] == "alveo" and not value.get("vitis_platform"):
        raise TargetError(f"{where}: an alveo package needs 'package.vitis_platform'")
    return BoardPackage(value["platform"], value.get("board_part", ""), value.get("vitis_platform", ""))


def _sources(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise TargetError(f"{where}: key 'sources' must be a table of fact = source, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}
