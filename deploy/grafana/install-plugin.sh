#!/bin/sh
# Install one Grafana plugin at an exact version into a plugins directory, at image build
# time (deploy/grafana/Dockerfile). POSIX sh: it runs on the Alpine-based Grafana image.
#
#   install-plugin.sh SOURCE_DIR PLUGINS_DIR PLUGIN_ID VERSION ARCH
#
# SOURCE_DIR/PLUGIN_ID-VERSION.linux_ARCH.zip, else SOURCE_DIR/PLUGIN_ID-VERSION.zip, is
# unpacked when present (an offline build); without either, `grafana cli` downloads that
# version. Then PLUGINS_DIR/PLUGIN_ID/plugin.json must name VERSION, or the build fails.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 SOURCE_DIR PLUGINS_DIR PLUGIN_ID VERSION ARCH" >&2; exit 2; }
source_dir=$1 plugins_dir=$2 plugin=$3 version=$4 arch=$5

mkdir -p "$plugins_dir"
rm -rf "${plugins_dir:?}/$plugin"
archive=
for candidate in "$source_dir/$plugin-$version.linux_$arch.zip" "$source_dir/$plugin-$version.zip"; do
  if [ -f "$candidate" ]; then archive=$candidate; break; fi
done
if [ -n "$archive" ]; then
  echo "installing $plugin $version from $(basename "$archive") (no download)"
  unzip -q "$archive" -d "$plugins_dir"
else
  echo "no $plugin-$version archive in $source_dir: downloading $version with grafana cli"
  grafana cli --pluginsDir "$plugins_dir" plugins install "$plugin" "$version"
fi

manifest="$plugins_dir/$plugin/plugin.json"
if [ ! -f "$manifest" ]; then
  echo "error: $manifest missing (the archive must hold a top-level $plugin/ folder)" >&2
  exit 1
fi
# The version sits in info.version; a plain match keeps this free of jq.
if ! grep -Eq "\"version\"[[:space:]]*:[[:space:]]*\"$version\"" "$manifest"; then
  echo "error: $manifest does not name version $version" >&2
  exit 1
fi
# Readable by Grafana's own user, and its backend (gpx_* binaries) executable, whatever
# modes the archive carried.
chmod -R a+rX "$plugins_dir/$plugin"
find "$plugins_dir/$plugin" -type f -name 'gpx_*' -exec chmod a+x {} +
echo "installed $plugin $version in $plugins_dir"
