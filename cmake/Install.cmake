# `cmake --install` (and the Debian package, which CPack builds from the same rules): the
# daemon, its systemd unit with the lipsyncd user and shared folders, the configuration, the
# man pages and the bash completion. Include from the top-level CMakeLists.txt after src/main
# (which installs the lipsyncd binary itself).
#
# The unit and the configuration name absolute paths, so they are written at install time for
# the prefix of that install (cmake/InstallServiceFiles.cmake): with the default /usr/local the
# unit runs /usr/local/bin/lipsyncd with /usr/local/etc/lipsyncd/lipsyncd.toml; with
# `--prefix /usr` (and in the package) /usr/bin/lipsyncd with /etc/lipsyncd/lipsyncd.toml.
# systemd's own folders come from systemd.pc (absolute on Debian, e.g. /lib/systemd/system)
# and can be overridden with the cache variables below.

include(GNUInstallDirs)

function(lipsyncd_systemd_dir variable pkg_variable fallback description)
  pkg_get_variable(found systemd ${pkg_variable})
  if(NOT found)
    set(found "${fallback}")
  endif()
  set(${variable} "${found}" CACHE PATH "${description}")
endfunction()

lipsyncd_systemd_dir(LIPSYNCD_SYSTEMD_UNIT_DIR systemdsystemunitdir lib/systemd/system
                     "Where lipsyncd.service is installed")
lipsyncd_systemd_dir(LIPSYNCD_SYSUSERS_DIR sysusersdir lib/sysusers.d
                     "Where the lipsyncd user definition is installed")
lipsyncd_systemd_dir(LIPSYNCD_TMPFILES_DIR tmpfilesdir lib/tmpfiles.d
                     "Where the lipsyncd folder definition is installed")
set(LIPSYNCD_SHARED_DIR "/srv/lipsyncd" CACHE PATH
    "inbox/, outbox/, done/ and error/ of the installed service (must match lipsyncd.tmpfiles)")
set(LIPSYNCD_STATE_DIR "/var/lib/lipsyncd" CACHE PATH
    "The installed service's private state (systemd's StateDirectory=lipsyncd)")

# What cmake/InstallServiceFiles.cmake needs at install time (the prefix it reads then).
install(CODE "
  set(LIPSYNCD_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(LIPSYNCD_INSTALL_STAGING \"${PROJECT_BINARY_DIR}/install-files\")
  set(LIPSYNCD_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(LIPSYNCD_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(LIPSYNCD_SYSTEMD_UNIT_DIR \"${LIPSYNCD_SYSTEMD_UNIT_DIR}\")
  set(LIPSYNCD_SYSUSERS_DIR \"${LIPSYNCD_SYSUSERS_DIR}\")
  set(LIPSYNCD_TMPFILES_DIR \"${LIPSYNCD_TMPFILES_DIR}\")
  set(LIPSYNCD_SHARED_DIR \"${LIPSYNCD_SHARED_DIR}\")
  set(LIPSYNCD_STATE_DIR \"${LIPSYNCD_STATE_DIR}\")
")
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/InstallServiceFiles.cmake)

# Man pages, compressed as Debian wants them (gzip -9n: no name or time stamp, so the same
# page always gives the same bytes).
set(lipsyncd_man_pages lipsyncd.8 lipsyncd.toml.5)
set(lipsyncd_man_outputs)
foreach(page ${lipsyncd_man_pages})
  set(output ${PROJECT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${output}
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
                     COMMAND sh -c "gzip -9n < \"$1\" > \"$2\"" sh
                             ${PROJECT_SOURCE_DIR}/man/${page} ${output}
                     DEPENDS ${PROJECT_SOURCE_DIR}/man/${page}
                     COMMENT "Compressing man page ${page}" VERBATIM)
  list(APPEND lipsyncd_man_outputs ${output})
  string(REGEX MATCH "[0-9]$" section ${page})
  install(FILES ${output} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(lipsyncd_man_pages ALL DEPENDS ${lipsyncd_man_outputs})

install(FILES ${PROJECT_SOURCE_DIR}/completion/lipsyncd.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME lipsyncd)
