#!/bin/sh
# Makes the DVFS knobs in one sysfs folder writable by group qeil, so the service actuates them
# without root. Called by 99-qeil-dvfs.rules for each CPU and devfreq device that appears;
# the same files as systemd/qeil.tmpfiles.conf, which covers those present at boot.
# Usage: dvfs-access cpufreq|devfreq SYSFS_DIR
set -u
kind="${1:-}"
dir="${2:-}"
group="${QEIL_GROUP:-qeil}"
case "$kind" in
  cpufreq) files="scaling_governor scaling_min_freq scaling_max_freq scaling_setspeed" ;;
  devfreq) files="governor min_freq max_freq userspace/set_freq" ;;
  *)
    echo "usage: $0 cpufreq|devfreq SYSFS_DIR" >&2
    exit 2
    ;;
esac
status=0
for file in $files; do
  # Not every driver has every knob (set_freq exists only under the userspace governor).
  [ -e "$dir/$file" ] || continue
  chgrp "$group" "$dir/$file" && chmod g+w "$dir/$file" || status=1
done
exit "$status"
