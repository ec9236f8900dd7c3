#!/bin/sh
# /usr/bin/qeil (installed by meta-qeil): runs the release in the active fleet-update slot, else
# the factory install from the image. The updater (src/update) switches @SLOTS_DIR@/current
# atomically between slot a, slot b and @FACTORY_DIR@.
#
# A slot that was just switched to is on trial until it passes its health gate. Before the switch
# the updater writes $slots/trial: the trial slot, the slot to fall back to ("a", "b" or "factory")
# and how many starts the trial slot gets, one per line. Each start of the trial slot appends a
# line to $slots/trial-boots; once its starts are used up this runs the fallback instead, whose
# first act (countBootAttempt, src/update/boot.ts) is to switch current back, end the trial and
# queue the rollback's announcement. The service counts its own starts as well, but only once its
# code runs; this count also leaves behind a release whose runtime or code cannot start at all.
slots="${QEIL_SLOTS_DIR:-@SLOTS_DIR@}"
factory="@FACTORY_DIR@"

if [ -f "$slots/trial" ] && { read -r slot && read -r fallback && read -r starts; } <"$slots/trial" &&
  [ "$(readlink "$slots/current" 2>/dev/null)" = "$slot" ]; then
  case "$starts" in
  '' | *[!0-9]*) echo "qeil: ignoring $slots/trial: start limit \"$starts\" is not a number" >&2 ;;
  *)
    # Durable before the release runs: a start that takes the board down with it still counts.
    echo "$$" >>"$slots/trial-boots" && sync
    boots=$(($(wc -l <"$slots/trial-boots")))
    if [ "$boots" -gt "$starts" ]; then
      case "$fallback" in
      factory) target="$factory" ;;
      a | b) target="$slots/$fallback" ;;
      *) target="" ;;
      esac
      if [ -n "$target" ] && [ -x "$target/bin/qeil" ]; then
        echo "qeil: slot $slot started $starts times without passing its health gate; starting $fallback" >&2
        exec "$target/bin/qeil" "$@"
      fi
      echo "qeil: slot $slot used up its starts, but its fallback \"$fallback\" cannot be run" >&2
    fi
    ;;
  esac
fi
if [ -x "$slots/current/bin/qeil" ]; then
  exec "$slots/current/bin/qeil" "$@"
fi
exec "$factory/bin/qeil" "$@"
