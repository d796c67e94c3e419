#!/usr/bin/env bash
# System packages sitaware needs on a Debian machine, installed only when missing.
# (ClickHouse itself is installed by `sitaware stack up` when absent.)
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
# The command-center page's browser test drives headless Chromium (no driver, no Python deps).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# A CJK font, so the page's zh-CN labels render in its screenshots instead of empty boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
# Prometheus and promtool: the tests check the shipped Prometheus config and evaluate every
# dashboard expression on a real Prometheus scraping a real worker. Without its
# recommendations: node-exporter is a daemon the tests do not need.
bare=()
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || bare+=(prometheus)
if [ $((${#need[@]} + ${#bare[@]})) -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${need[*]} ${bare[*]} (install them as root: apt-get install ${need[*]} ${bare[*]})" >&2
    exit 1
  fi
  echo "installing system packages: ${need[*]} ${bare[*]}" >&2
  apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ${#bare[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${bare[@]}" >/dev/null
  fi
fi
