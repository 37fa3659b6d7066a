# The Debian package, built by CPack's DEB generator from the install rules of this build
# tree (`.ci/package`, or `cpack --config build/CPackConfig.cmake` after a build). CPack rather
# than debian/ + dpkg-buildpackage because CI cannot afford a second full build; README.md
# ("Operating lipsyncd") lists what stands in for each debhelper step.
#
# The package holds what `cmake --install --prefix /usr` installs: the daemon, its unit, the
# sysusers/tmpfiles snippets, /etc/lipsyncd/lipsyncd.toml (a conffile), the man pages and the
# bash completion, plus Debian's copyright and changelog. No emulator, no test program: those
# have no install rule.

set(lipsyncd_deb_dir ${PROJECT_SOURCE_DIR}/packaging/deb)

# The package version is the top entry of the Debian changelog, whose upstream part must be
# the project's version: a package never ships a changelog that names another release.
file(STRINGS ${lipsyncd_deb_dir}/changelog lipsyncd_changelog_top LIMIT_COUNT 1)
if(NOT lipsyncd_changelog_top MATCHES "^lipsyncd \\(([^)-]+)-([^)]+)\\)")
  message(FATAL_ERROR "packaging/deb/changelog: the first line must be `lipsyncd (VERSION-REVISION) ...`")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "packaging/deb/changelog starts with version ${CMAKE_MATCH_1} but the project "
                      "is ${PROJECT_VERSION}: add a changelog entry for ${PROJECT_VERSION}")
endif()
set(lipsyncd_deb_revision ${CMAKE_MATCH_2})

set(lipsyncd_changelog_gz ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
add_custom_command(OUTPUT ${lipsyncd_changelog_gz}
                   COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/packaging
                   COMMAND sh -c "gzip -9n < \"$1\" > \"$2\"" sh ${lipsyncd_deb_dir}/changelog
                           ${lipsyncd_changelog_gz}
                   DEPENDS ${lipsyncd_deb_dir}/changelog
                   COMMENT "Compressing the Debian changelog" VERBATIM)
add_custom_target(lipsyncd_deb_changelog ALL DEPENDS ${lipsyncd_changelog_gz})
install(FILES ${lipsyncd_deb_dir}/copyright ${lipsyncd_changelog_gz}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(LIPSYNCD_PACKAGE_MAINTAINER "lipsyncd maintainers <maintainers@lipsyncd.example.org>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lipsyncd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "lipsyncd")
set(CPACK_PACKAGE_CONTACT "${LIPSYNCD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "watch-folder lip-sync daemon for fal.ai sync-lipsync")
set(CPACK_PACKAGE_DESCRIPTION
    "lipsyncd turns a video of someone speaking and an audio track dropped into a
watched folder into a lip-synced MP4. It checks and normalizes both files
locally (FFmpeg, OpenCV face check), picks how to reconcile their lengths,
submits the job to fal.ai's sync-lipsync model, waits for the result and
delivers it to an outbox, without paying twice or losing a file.

The package runs it as the systemd service lipsyncd.service under its own
user, with the shared folders in /srv/lipsyncd and the configuration in
/etc/lipsyncd/lipsyncd.toml.")
# Install into the staging root through DESTDIR with the real prefix /usr (whatever prefix
# the build tree was configured with), so the unit and the configuration written at install
# time name /usr/bin and /etc, not /usr/local or the staging folder.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${lipsyncd_deb_revision})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LIPSYNCD_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps works out the shared libraries; these are what it cannot see: the face
# check's Haar cascades, and systemd for the unit, sysusers and tmpfiles (the maintainer
# scripts call systemd-sysusers, systemd-tmpfiles and deb-systemd-helper).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "opencv-data, systemd, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${lipsyncd_deb_dir}/conffiles ${lipsyncd_deb_dir}/postinst ${lipsyncd_deb_dir}/prerm
    ${lipsyncd_deb_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
