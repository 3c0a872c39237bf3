#!/bin/bash
# build-agent.sh - build the reference MTConnect agent (cppagent 1.8.0.3)
# from source with Debian 12 packages only, for tests/mtconnect/agent.sh.
# 2.x cannot be built here (it needs mqtt_cpp, not in Debian, and Boost >=
# 1.79 through conan). Takes about 10 minutes on 2 vCPUs (dlib in the
# configure step, then the agent); the result is cached outside the tree:
#
#   CPPAGENT_GIT=<git dir of mtconnect/cppagent> DLIB_GIT=<git dir of davisking/dlib> \
#       tests/mtconnect/build-agent.sh [CACHE_DIR]     (default /var/tmp/hmk-cppagent)
#
# leaves CACHE_DIR/agent. Needs root for apt-get (the packages below).
set -euo pipefail
cache=${1:-${MTC_AGENT_CACHE:-/var/tmp/hmk-cppagent}}
: "${CPPAGENT_GIT:?set CPPAGENT_GIT to a git dir (or clone) of mtconnect/cppagent}"
: "${DLIB_GIT:?set DLIB_GIT to a git dir (or clone) of davisking/dlib}"
if [ -x "$cache/agent" ]; then echo "$cache/agent already built"; exit 0; fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ make libxml2-dev \
    libhowardhinnant-date-dev nlohmann-json3-dev >/dev/null
mkdir -p "$cache/src" "$cache/deps/json/single_include" "$cache/build/_deps/dlibprovider-build"
# the four blobs over 4 MiB (Windows installers, a simulator log) are not
# needed to build and may be missing from a mirror
git --git-dir="$CPPAGENT_GIT" archive --prefix=cppagent-1.8.0.3/ v1.8.0.3 -- . \
    ':(exclude)install/Windows/src/MTConnectAgentInstall1.2.exe' \
    ':(exclude)install/Windows/src/x32/vc2010redist_x86.exe' \
    ':(exclude)install/Windows/src/x64/vc2010redist_x64.exe' \
    ':(exclude)simulator/VMC-3Axis-Log.txt' | tar -x -C "$cache/src"
git --git-dir="$DLIB_GIT" archive --prefix=dlib-19.18/ v19.18 | tar -x -C "$cache/deps"
ln -sfn /usr/include/nlohmann "$cache/deps/json/single_include/nlohmann"
cd "$cache/build"
# FetchContent overrides point at the sources above and Debian's headers
# (no network); CMake does not create the nested dlib build dir by itself
nice -n 10 cmake ../src/cppagent-1.8.0.3 -Wno-dev -DCMAKE_BUILD_TYPE=Release \
    -DAGENT_ENABLE_UNITTESTS=OFF -DAGENT_USE_NATIVE_LIBXML2=ON \
    -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
    -DFETCHCONTENT_SOURCE_DIR_DLIBPROVIDER="$cache/deps/dlib-19.18" \
    -DFETCHCONTENT_SOURCE_DIR_DATEPROVIDER=/usr \
    -DFETCHCONTENT_SOURCE_DIR_JSONPROVIDER="$cache/deps/json"
nice -n 10 make -j2 agent
cp agent/agent "$cache/agent"
echo "built $cache/agent"
