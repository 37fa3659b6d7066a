# Install-time part of cmake/Install.cmake: writes the unit, the tmpfiles snippet and the
# configuration for the prefix of this install (CMAKE_INSTALL_PREFIX as `cmake --install
# --prefix` or CPack set it), then installs them beside the sysusers snippet. Install.cmake sets
# the LIPSYNCD_* variables just before including this.

function(lipsyncd_full_dir relative out)
  if(IS_ABSOLUTE "${relative}")
    set(full "${relative}")
  elseif(relative STREQUAL "etc" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(full "/etc")  # GNUInstallDirs: the configuration of a /usr install lives in /etc
  else()
    set(full "${CMAKE_INSTALL_PREFIX}/${relative}")
  endif()
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

lipsyncd_full_dir("${LIPSYNCD_BINDIR}" lipsyncd_bindir)
lipsyncd_full_dir("${LIPSYNCD_SYSCONFDIR}" lipsyncd_sysconfdir)
lipsyncd_full_dir("${LIPSYNCD_SYSTEMD_UNIT_DIR}" lipsyncd_unit_dir)
lipsyncd_full_dir("${LIPSYNCD_SYSUSERS_DIR}" lipsyncd_sysusers_dir)
lipsyncd_full_dir("${LIPSYNCD_TMPFILES_DIR}" lipsyncd_tmpfiles_dir)
set(lipsyncd_config_dir "${lipsyncd_sysconfdir}/lipsyncd")

# One staging folder per prefix, each file written under a private name and renamed into
# place: `cmake --install` and CPack may run at the same time for different prefixes.
string(MD5 prefix_hash "${CMAKE_INSTALL_PREFIX}")
set(staging "${LIPSYNCD_INSTALL_STAGING}/${prefix_hash}")
file(MAKE_DIRECTORY "${staging}")
function(lipsyncd_stage name text)
  string(RANDOM LENGTH 12 token)
  file(WRITE "${staging}/.${name}.${token}" "${text}")
  file(RENAME "${staging}/.${name}.${token}" "${staging}/${name}")
endfunction()

# The unit: same file as systemd/lipsyncd.service, with this prefix's paths.
file(READ "${LIPSYNCD_SOURCE_DIR}/systemd/lipsyncd.service" unit)
string(REPLACE "/usr/bin/lipsyncd" "${lipsyncd_bindir}/lipsyncd" unit "${unit}")
string(REPLACE "/etc/lipsyncd/" "${lipsyncd_config_dir}/" unit "${unit}")
string(REPLACE "/srv/lipsyncd" "${LIPSYNCD_SHARED_DIR}" unit "${unit}")
lipsyncd_stage(lipsyncd.service "${unit}")

file(READ "${LIPSYNCD_SOURCE_DIR}/systemd/lipsyncd.tmpfiles" tmpfiles)
string(REPLACE "/srv/lipsyncd" "${LIPSYNCD_SHARED_DIR}" tmpfiles "${tmpfiles}")
lipsyncd_stage(lipsyncd.tmpfiles "${tmpfiles}")

# The configuration: config/lipsyncd.toml with [paths] pointing at the service's folders
# instead of folders beside the config file (which would be read-only /etc/lipsyncd/...).
file(READ "${LIPSYNCD_SOURCE_DIR}/config/lipsyncd.toml" config)
foreach(folder inbox outbox done error)
  string(REGEX REPLACE "\n${folder} = \"${folder}\"" "\n${folder} = \"${LIPSYNCD_SHARED_DIR}/${folder}\""
                       config "${config}")
endforeach()
string(REGEX REPLACE "\nstate = \"state\"" "\nstate = \"${LIPSYNCD_STATE_DIR}\"" config "${config}")
lipsyncd_stage(lipsyncd.toml "${config}")

# file(INSTALL) adds DESTDIR itself, and lists what it installed for CPack and install_manifest.
set(mode PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${staging}/lipsyncd.service" DESTINATION "${lipsyncd_unit_dir}" ${mode})
file(INSTALL "${staging}/lipsyncd.tmpfiles" DESTINATION "${lipsyncd_tmpfiles_dir}"
     RENAME lipsyncd.conf ${mode})
file(INSTALL "${LIPSYNCD_SOURCE_DIR}/systemd/lipsyncd.sysusers" DESTINATION "${lipsyncd_sysusers_dir}"
     RENAME lipsyncd.conf ${mode})

# An edited configuration is never overwritten: the shipped one then lands beside it as
# lipsyncd.toml.dist for comparison. (The existence check must add DESTDIR by hand.)
if(EXISTS "$ENV{DESTDIR}${lipsyncd_config_dir}/lipsyncd.toml")
  message(STATUS "Keeping $ENV{DESTDIR}${lipsyncd_config_dir}/lipsyncd.toml; new defaults in lipsyncd.toml.dist")
  file(INSTALL "${staging}/lipsyncd.toml" DESTINATION "${lipsyncd_config_dir}" RENAME lipsyncd.toml.dist
       ${mode})
else()
  file(INSTALL "${staging}/lipsyncd.toml" DESTINATION "${lipsyncd_config_dir}" ${mode})
endif()
