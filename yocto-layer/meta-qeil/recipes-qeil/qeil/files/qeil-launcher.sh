#!/bin/sh
# /usr/bin/qeil (installed by meta-qeil): runs the release in the active fleet-update slot, else
# the factory install from the image. The updater (src/update) switches @SLOTS_DIR@/current
# atomically between slot a, slot b and @FACTORY_DIR@.
slots="${QEIL_SLOTS_DIR:-@SLOTS_DIR@}"
if [ -x "$slots/current/bin/qeil" ]; then
  exec "$slots/current/bin/qeil" "$@"
fi
exec "@FACTORY_DIR@/bin/qeil" "$@"
