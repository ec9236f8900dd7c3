SUMMARY = "qeil: placement-optimised LLM inference service for ARM edge boards"
DESCRIPTION = "Runs LLM inference on the board's CPU clusters, GPU and NPU, placing each request \
from physics (roofline, memory pressure, thermal leakage), driven over MQTT and HTTP. Installs the \
offline release bundle (Deno runtime, bundled application, onnxruntime-node for this architecture) \
as the factory install, /usr/bin/qeil dispatching to the active update slot, and the systemd unit."
# The repository carries no licence file yet; set LICENSE and LIC_FILES_CHKSUM when it does. The
# bundle also ships Deno (MIT) and onnxruntime (MIT).
LICENSE = "CLOSED"

# The release bundle is built for exactly these two architectures.
COMPATIBLE_HOST = "(aarch64|x86_64).*-linux"
QEIL_ARCH = "unsupported"
QEIL_ARCH:aarch64 = "aarch64"
QEIL_ARCH:x86-64 = "x86_64"

# Release artifacts from `deno task release --archive`, then the systemd/ folder of the repository
# (the single source of the unit, its defaults, tmpfiles rules and config), then files/.
FILESEXTRAPATHS:prepend := "${QEIL_RELEASE_DIR}:${QEIL_REPO_DIR}/systemd:"

SRC_URI = " \
    file://qeil-${PV}-${QEIL_ARCH}.tar.gz \
    file://qeil.service \
    file://qeil.default \
    file://qeil.tmpfiles.conf \
    file://qeil.config.json \
    file://qeil-launcher.sh \
    file://qeil-dvfs-access.sh \
    file://99-qeil-dvfs.rules \
"

# Scarthgap unpacks into WORKDIR and has no UNPACKDIR; later releases define it themselves.
UNPACKDIR ??= "${WORKDIR}"
S = "${UNPACKDIR}/qeil-${PV}-${QEIL_ARCH}"

inherit systemd useradd

QEIL_FACTORY_DIR = "${nonarch_libdir}/qeil"
QEIL_STATE_DIR = "${localstatedir}/lib/qeil"

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system qeil"
USERADD_PARAM:${PN} = "--system --gid qeil --home-dir ${QEIL_STATE_DIR} --no-create-home --shell /sbin/nologin --comment 'qeil inference service' qeil"

SYSTEMD_SERVICE:${PN} = "qeil.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

python () {
    # The Deno runtime and onnxruntime in the bundle are built against glibc.
    if d.getVar('TCLIBC') != 'glibc':
        raise bb.parse.SkipRecipe('qeil needs glibc (TCLIBC is %s)' % d.getVar('TCLIBC'))
}

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    # The release bundle is the factory install; fleet updates go to slots in QEIL_STATE_DIR.
    install -d ${D}${QEIL_FACTORY_DIR}
    cp -R --no-preserve=ownership ${S}/. ${D}${QEIL_FACTORY_DIR}/

    install -d ${D}${bindir}
    sed -e 's,@SLOTS_DIR@,${QEIL_STATE_DIR}/slots,g' -e 's,@FACTORY_DIR@,${QEIL_FACTORY_DIR},g' \
        ${UNPACKDIR}/qeil-launcher.sh > ${D}${bindir}/qeil
    chmod 0755 ${D}${bindir}/qeil

    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${UNPACKDIR}/qeil.service ${D}${systemd_system_unitdir}/qeil.service

    install -d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${UNPACKDIR}/qeil.tmpfiles.conf ${D}${nonarch_libdir}/tmpfiles.d/qeil.conf

    install -d ${D}${sysconfdir}/default
    install -m 0644 ${UNPACKDIR}/qeil.default ${D}${sysconfdir}/default/qeil
    install -d -m 0755 ${D}${sysconfdir}/qeil
    install -m 0644 ${UNPACKDIR}/qeil.config.json ${D}${sysconfdir}/qeil/config.json

    install -d ${D}${libexecdir}/qeil
    install -m 0755 ${UNPACKDIR}/qeil-dvfs-access.sh ${D}${libexecdir}/qeil/dvfs-access
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    sed -e 's,@LIBEXECDIR@,${libexecdir},g' ${UNPACKDIR}/99-qeil-dvfs.rules \
        > ${D}${nonarch_base_libdir}/udev/rules.d/99-qeil-dvfs.rules
}

FILES:${PN} += " \
    ${QEIL_FACTORY_DIR} \
    ${nonarch_libdir}/tmpfiles.d/qeil.conf \
    ${nonarch_base_libdir}/udev/rules.d/99-qeil-dvfs.rules \
    ${libexecdir}/qeil \
"
CONFFILES:${PN} = "${sysconfdir}/qeil/config.json ${sysconfdir}/default/qeil"

# /bin/sh runs the launchers (base-utils provides it), tar unpacks fleet updates, udev applies
# the DVFS permissions. The shared libraries of Deno and onnxruntime (glibc, libstdc++) are found
# by the shlibs scan.
RDEPENDS:${PN} = "${VIRTUAL-RUNTIME_base-utils} tar udev"
# An external broker is optional: without one configured the service embeds its own (MQTT 3.1.1).
RRECOMMENDS:${PN} = "mosquitto"

# Prebuilt, already stripped binaries (Deno, onnxruntime) linked without the build's LDFLAGS.
INSANE_SKIP:${PN} += "already-stripped ldflags"
INHIBIT_PACKAGE_STRIP = "1"
INHIBIT_PACKAGE_DEBUG_SPLIT = "1"
