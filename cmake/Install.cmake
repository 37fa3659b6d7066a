# `cmake --install`: the daemon, its systemd unit with the lipsyncd user and shared folders,
# and the configuration. Include from the top-level CMakeLists.txt after src/main (which
# installs the lipsyncd binary itself).
#
# The unit and the configuration name absolute paths, so they are written for this build's
# install prefix here: with the default /usr/local the unit runs /usr/local/bin/lipsyncd with
# /usr/local/etc/lipsyncd/lipsyncd.toml; packagers use -DCMAKE_INSTALL_PREFIX=/usr (config in
# /etc) and DESTDIR. systemd's own folders come from systemd.pc (absolute on Debian, e.g.
# /lib/systemd/system) and can be overridden with the cache variables below.

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

set(lipsyncd_install_staging ${PROJECT_BINARY_DIR}/install-files)
set(lipsyncd_config_dir ${CMAKE_INSTALL_FULL_SYSCONFDIR}/lipsyncd)

# The unit: same file as systemd/lipsyncd.service, with this prefix's paths.
file(READ ${PROJECT_SOURCE_DIR}/systemd/lipsyncd.service lipsyncd_unit)
string(REPLACE "/usr/bin/lipsyncd" "${CMAKE_INSTALL_FULL_BINDIR}/lipsyncd" lipsyncd_unit
               "${lipsyncd_unit}")
string(REPLACE "/etc/lipsyncd/" "${lipsyncd_config_dir}/" lipsyncd_unit "${lipsyncd_unit}")
string(REPLACE "/srv/lipsyncd" "${LIPSYNCD_SHARED_DIR}" lipsyncd_unit "${lipsyncd_unit}")
file(WRITE ${lipsyncd_install_staging}/lipsyncd.service "${lipsyncd_unit}")

file(READ ${PROJECT_SOURCE_DIR}/systemd/lipsyncd.tmpfiles lipsyncd_tmpfiles)
string(REPLACE "/srv/lipsyncd" "${LIPSYNCD_SHARED_DIR}" lipsyncd_tmpfiles "${lipsyncd_tmpfiles}")
file(WRITE ${lipsyncd_install_staging}/lipsyncd.tmpfiles "${lipsyncd_tmpfiles}")

# The configuration: config/lipsyncd.toml with [paths] pointing at the service's folders
# instead of folders beside the config file (which would be read-only /etc/lipsyncd/...).
file(READ ${PROJECT_SOURCE_DIR}/config/lipsyncd.toml lipsyncd_config)
foreach(folder inbox outbox done error)
  string(REGEX REPLACE "\n${folder} = \"${folder}\"" "\n${folder} = \"${LIPSYNCD_SHARED_DIR}/${folder}\""
                       lipsyncd_config "${lipsyncd_config}")
endforeach()
string(REGEX REPLACE "\nstate = \"state\"" "\nstate = \"${LIPSYNCD_STATE_DIR}\""
                     lipsyncd_config "${lipsyncd_config}")
file(WRITE ${lipsyncd_install_staging}/lipsyncd.toml "${lipsyncd_config}")

install(FILES ${lipsyncd_install_staging}/lipsyncd.service
        DESTINATION ${LIPSYNCD_SYSTEMD_UNIT_DIR})
install(FILES ${lipsyncd_install_staging}/lipsyncd.tmpfiles
        DESTINATION ${LIPSYNCD_TMPFILES_DIR} RENAME lipsyncd.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/lipsyncd.sysusers
        DESTINATION ${LIPSYNCD_SYSUSERS_DIR} RENAME lipsyncd.conf)

# An edited configuration is never overwritten: the shipped one then lands beside it as
# lipsyncd.toml.dist for comparison.
# (file(INSTALL) adds DESTDIR itself; the existence check must add it by hand.)
install(CODE "
  set(lipsyncd_config_target \"\$ENV{DESTDIR}${lipsyncd_config_dir}/lipsyncd.toml\")
  if(EXISTS \"\${lipsyncd_config_target}\")
    message(STATUS \"Keeping \${lipsyncd_config_target}; new defaults in lipsyncd.toml.dist\")
    file(INSTALL \"${lipsyncd_install_staging}/lipsyncd.toml\"
         DESTINATION \"${lipsyncd_config_dir}\" RENAME lipsyncd.toml.dist)
  else()
    file(INSTALL \"${lipsyncd_install_staging}/lipsyncd.toml\"
         DESTINATION \"${lipsyncd_config_dir}\")
  endif()
")
